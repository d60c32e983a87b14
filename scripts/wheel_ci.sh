#!/usr/bin/env bash
# The wheel checks .ci/run calls (docs/packaging.md). Quick profile: the wheels reuse the
# test build's target dir (`--profile dev --strip` relinks only the binary); the optimised
# release wheels come from scripts/build_wheels.sh.
#
#   1. maturin and uv from PyPI into a throw-away venv
#   2. the Linux wheel: built, checked (scripts/check_wheel.py), installed with real pip into
#      a fresh venv holding the kit's fake CPU torch; the installed `torchup --version`,
#      `torchup detect --json` (targets that venv without activation), `python -m torchup
#      --version`; `uvx --from <wheel> torchup` (tests/wheel_install.rs, ignored by default)
#   3. `cargo package` (the packaged crate builds on its own) and `cargo install --path .`
#   4. the Windows wheel (x86_64-pc-windows-gnu with mingw): contents, tags, DLL imports.
#      Skipped with --no-windows (a cold Windows build costs minutes: docs/packaging.md).
# Each step prints its time.
set -euo pipefail
cd "$(dirname "$0")/.."

windows=1
for arg in "$@"; do
  case "$arg" in
    --no-windows) windows=0 ;;
    *) echo "usage: scripts/wheel_ci.sh [--no-windows]" >&2; exit 2 ;;
  esac
done

work=$(mktemp -d "${TMPDIR:-/tmp}/torchup-wheel-ci.XXXXXX")
trap 'rm -rf "$work"' EXIT
started=$SECONDS
timed() {
  local label=$1 t0=$SECONDS
  shift
  printf -- '--- %s\n' "$label"
  "$@"
  printf -- '--- %s: %d s\n' "$label" $((SECONDS - t0))
}

tools="$work/tools"
install_tools() {
  python3 -m venv "$tools"
  "$tools/bin/python" -m pip install --quiet --disable-pip-version-check 'maturin>=1.9,<2' 'uv>=0.5'
  "$tools/bin/maturin" --version
  "$tools/bin/uv" --version
}
timed "maturin and uv from PyPI (throw-away venv)" install_tools

only_wheel() {
  local found=("$1"/*.whl)
  if [ ${#found[@]} -ne 1 ] || [ ! -f "${found[0]}" ]; then
    echo "expected one wheel in $1, found: ${found[*]}" >&2
    return 1
  fi
  printf '%s\n' "${found[0]}"
}

timed "Linux wheel (maturin build --profile dev --strip)" \
  "$tools/bin/maturin" build --profile dev --strip --out "$work/linux"
linux_wheel=$(only_wheel "$work/linux")
timed "check the Linux wheel" python3 scripts/check_wheel.py "$linux_wheel" --objdump objdump
timed "pip install the wheel into a fresh venv; torchup --version, detect --json, python -m torchup, uvx" \
  env TORCHUP_WHEEL="$linux_wheel" TORCHUP_UVX="$tools/bin/uvx" \
  cargo test --test wheel_install -- --ignored --nocapture --test-threads=1

timed "cargo package (the packaged crate builds on its own)" \
  cargo package --allow-dirty --locked
timed "cargo install --path . (debug, into a throw-away root)" \
  cargo install --path . --debug --locked --root "$work/cargo-root" --quiet
timed "the cargo-installed torchup --version" "$work/cargo-root/bin/torchup" --version

if [ "$windows" = 1 ]; then
  if rustup target list --installed 2>/dev/null | grep -qx x86_64-pc-windows-gnu \
    && command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1; then
    timed "Windows wheel (x86_64-pc-windows-gnu, --profile dev --strip)" \
      "$tools/bin/maturin" build --profile dev --strip --target x86_64-pc-windows-gnu --out "$work/windows"
    timed "check the Windows wheel (contents, tags, DLL imports)" \
      python3 scripts/check_wheel.py "$(only_wheel "$work/windows")" --tag py3-none-win_amd64 \
      --objdump x86_64-w64-mingw32-objdump
  else
    echo "!!! WARNING: x86_64-pc-windows-gnu or mingw-w64 missing: the Windows wheel was NOT built or checked !!!"
  fi
fi
printf -- '--- wheel checks: %d s in all\n' $((SECONDS - started))
