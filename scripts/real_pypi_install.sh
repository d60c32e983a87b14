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
# CACHE=dir reuses a wheelhouse from an earlier run (no second 2.8 GB download).
export HOME="$work/home" TORCHUP_STATE_DIR="$work/state" TORCHUP_CACHE_DIR="${CACHE:-$work/cache}"
export PIP_CONFIG_FILE=/dev/null
unset PIP_INDEX_URL PIP_EXTRA_INDEX_URL || true
mkdir -p "$HOME"

free_before=$(df -B1 --output=avail "$work" | tail -1)
start=$(date +%s)
set +e
"$TORCHUP_BIN" --python "$py" --mirror pypi install --yes --json --torch 2.5.1 --variant cu124 --force \
  --log-file "$work/install.log" > "$work/install.json" 2> "$work/install.out"
install_rc=$?
set -e
secs=$(( $(date +%s) - start ))
free_after=$(df -B1 --output=avail "$work" | tail -1)
tail -n 30 "$work/install.out"

# No GPU here: the CUDA build installs, its smoke test finds CUDA unavailable (F08), and the
# engine puts the previous state (no torch) back, offline. The report must show the real
# CUDA 12.4 build was installed and tested.
python3 - "$work/install.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
smoke = r.get("smoke") or {}
ids = [d["id"] for d in r.get("diagnoses", [])]
print("outcome", r["outcome"], "| smoke torch", smoke.get("torch"), "| diagnoses", ids)
assert r["outcome"] == "rolled-back", r["outcome"]
assert smoke.get("torch", {}).get("cuda") == "12.4", smoke.get("torch")
assert "F08" in ids, ids
PY
"$py" -c 'import torch' 2>/dev/null && { echo "FAIL: the rollback left torch behind" >&2; exit 1; }

# The wheelhouse holds every file the build needs: install it again fully offline, then
# `torchup verify` reports the CUDA 12.4 build, CUDA not available, and the driver diagnosis.
links=$(ls -d "$TORCHUP_CACHE_DIR"/wheelhouse/links/*/ | head -1)
"$py" -m pip install --quiet --no-index --find-links "$links" "$links"/torch-2.5.1-*.whl
set +e
"$TORCHUP_BIN" --python "$py" verify --json > "$work/verify.json" 2> "$work/verify.err"
verify_rc=$?
set -e
cuda=$("$py" -c 'import torch; print(torch.version.cuda)' 2>/dev/null || echo none)
version=$("$py" -c 'import torch; print(torch.__version__)' 2>/dev/null || echo none)
echo
echo "install exit $install_rc in ${secs}s, $(( (free_before - free_after) / 1000000 )) MB used; verify exit $verify_rc"
echo "torch $version, torch.version.cuda = $cuda"
grep -o '"cuda_available": [a-z]*' "$work/verify.json" || true
grep -o '"id": "[A-Z0-9]*"' "$work/verify.json" | head -3 || true
if [ "$cuda" != "12.4" ] || [ "$verify_rc" != 1 ]; then
  echo "FAIL: expected the CUDA 12.4 build from PyPI and verify exit 1, got '$cuda' and $verify_rc" >&2
  exit 1
fi
echo "OK: PyPI's CUDA 12.4 build fetched, installed, smoke-tested and rolled back offline; verify reports it (no GPU on this machine)"
