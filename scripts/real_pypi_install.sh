#!/usr/bin/env bash
# End to end on this Linux machine, with real wheels from PyPI (~2.8 GB): a fresh venv,
# `torchup install --yes --mirror pypi` for torch 2.5.1 (PyPI's Linux wheel of 2.5.1 is the
# CUDA 12.4 build, compat.toml pypi_linux), then `torchup verify`. There is no GPU here, so
# verify must report the CUDA 12.4 build, CUDA not available, and the driver diagnosis.
#
# Not part of `cargo test` (network, ~3 GB of disk, minutes). It needs the install engine
# that fetches the chosen build's wheels itself and installs those files by path (PyPI has no
# per-variant index, so a `--index-url <pypi>/<variant>` pip call cannot work).
#
# usage: scripts/real_pypi_install.sh            (Linux x86_64, Python 3.9-3.12 as python3)
#   TORCHUP_BIN=path   the binary (default: cargo build --release, then use it)
#   KEEP=1             keep the temp directory (venv, logs) for inspection
# Record the result (time, bytes, outcome) in docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(uname -s)" != Linux ] || [ "$(uname -m)" != x86_64 ]; then
  echo "real_pypi_install.sh: Linux x86_64 only (PyPI's torch is CPU-only elsewhere)" >&2
  exit 2
fi
if [ -z "${TORCHUP_BIN:-}" ]; then
  cargo build --release --quiet
  TORCHUP_BIN="${CARGO_TARGET_DIR:-target}/release/torchup"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/torchup-pypi.XXXXXX")
if [ -z "${KEEP:-}" ]; then trap 'rm -rf "$work"' EXIT; else echo "keeping $work"; fi
python3 -m venv "$work/venv"
py="$work/venv/bin/python"
"$py" -m pip install --quiet --upgrade pip

# Isolated from the developer's config and caches. No GPU or driver here: the explicit
# build is planned with --force (it overrides the driver and architecture checks only).
export HOME="$work/home" TORCHUP_STATE_DIR="$work/state" TORCHUP_CACHE_DIR="$work/cache"
export PIP_CONFIG_FILE=/dev/null
unset PIP_INDEX_URL PIP_EXTRA_INDEX_URL || true
mkdir -p "$HOME"

free_before=$(df -B1 --output=avail "$work" | tail -1)
start=$(date +%s)
set +e
"$TORCHUP_BIN" --python "$py" --mirror pypi install --yes --torch 2.5.1 --variant cu124 --force \
  --log-file "$work/install.log" 2>&1 | tee "$work/install.out"
install_rc=${PIPESTATUS[0]}
"$TORCHUP_BIN" --python "$py" verify --json > "$work/verify.json" 2> "$work/verify.err"
verify_rc=$?
set -e
secs=$(( $(date +%s) - start ))
free_after=$(df -B1 --output=avail "$work" | tail -1)

cuda=$("$py" -c 'import torch; print(torch.version.cuda)' 2>/dev/null || echo none)
version=$("$py" -c 'import torch; print(torch.__version__)' 2>/dev/null || echo none)
echo
echo "install exit $install_rc, verify exit $verify_rc, ${secs}s, $(( (free_before - free_after) / 1000000 )) MB used"
echo "torch $version, torch.version.cuda = $cuda"
grep -o '"cuda_available": [a-z]*' "$work/verify.json" || true
grep -o '"id": "[A-Z0-9]*"' "$work/verify.json" | head -3 || true
if [ "$cuda" != "12.4" ]; then
  echo "FAIL: expected the CUDA 12.4 build from PyPI, got '$cuda'" >&2
  exit 1
fi
echo "OK: PyPI's CUDA 12.4 build installed; verify reports it (no GPU on this machine)"
