#!/usr/bin/env bash
# The optimised (release, stripped) wheels, built on Linux (docs/packaging.md):
#   linux    manylinux2014 x86_64 (glibc >= 2.17) with `maturin --zig`, zig from the
#            `ziglang` wheel on PyPI
#   windows  win_amd64, cross-built for x86_64-pc-windows-gnu with mingw-w64
#   aarch64  manylinux2014 aarch64 with zig (only when asked: needs the rust-std of
#            aarch64-unknown-linux-gnu)
# Each wheel is checked by scripts/check_wheel.py (contents, tags, RECORD, imports, size
# against the 8 MB goal). The build tools (maturin, ziglang, uv) live in a venv under
# target/wheel-tools, made on first use.
#
#   scripts/build_wheels.sh [--out DIR] [linux] [windows] [aarch64]   (default: linux windows)
set -euo pipefail
cd "$(dirname "$0")/.."

out=target/wheels
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    linux|windows|aarch64) targets+=("$1"); shift ;;
    *) echo "usage: scripts/build_wheels.sh [--out DIR] [linux] [windows] [aarch64]" >&2; exit 2 ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=(linux windows)
mkdir -p "$out"

tools=target/wheel-tools
if [ ! -x "$tools/bin/maturin" ] || ! "$tools/bin/python" -c 'import ziglang' 2>/dev/null; then
  echo "--- build tools from PyPI into $tools (maturin, ziglang, uv)"
  python3 -m venv "$tools"
  "$tools/bin/python" -m pip install --quiet --disable-pip-version-check 'maturin>=1.9,<2' ziglang 'uv>=0.5'
fi
export PATH="$PWD/$tools/bin:$PATH"
maturin --version

# maturin finds zig through the ziglang package of the Python running it.
build() {
  local name=$1 t0=$SECONDS
  shift
  echo "--- $name: maturin build --release $*"
  local dir
  dir=$(mktemp -d "$out/.build-$name.XXXXXX")
  maturin build --release "$@" --out "$dir"
  local wheel
  wheel=$(ls "$dir"/*.whl)
  mv "$wheel" "$out/"
  rmdir "$dir"
  echo "--- $name: $((SECONDS - t0)) s"
  printf '%s\n' "$out/$(basename "$wheel")" >>"$out/.built"
}

rm -f "$out/.built"
for t in "${targets[@]}"; do
  case "$t" in
    linux) build linux --zig --compatibility manylinux2014 --target x86_64-unknown-linux-gnu ;;
    aarch64)
      rustup target add aarch64-unknown-linux-gnu >/dev/null
      build aarch64 --zig --compatibility manylinux2014 --target aarch64-unknown-linux-gnu ;;
    windows) build windows --target x86_64-pc-windows-gnu ;;
  esac
done

status=0
while read -r wheel; do
  case "$wheel" in
    *win_amd64.whl) args=(--tag py3-none-win_amd64 --objdump x86_64-w64-mingw32-objdump) ;;
    *aarch64.whl) args=(--max-glibc 2.17) ;;
    *) args=(--objdump objdump --max-glibc 2.17) ;;
  esac
  python3 scripts/check_wheel.py "$wheel" --goal-mb 8 "${args[@]}" || status=1
done <"$out/.built"
rm -f "$out/.built"
exit $status
