#!/usr/bin/env bash
# The real-wheel tier: torchup against a REAL torch from PyPI, not the test kit's fake.
#
#   scripts/real_torch.sh          the tier, then the optional `torch` feature (tch) against
#                                  a real libtorch (a second ~3 GB download, not in CI)
#   scripts/real_torch.sh --ci     the tier only; when PyPI does not answer, print a loud
#                                  "REAL-TORCH TIER SKIPPED: <reason>" and exit 0
#
# The venvs live under a cache path outside the repository, so later runs on the same
# machine reuse them (the first run downloads ~2.8 GB for torch 2.5.1 and its nvidia-* wheels):
#   TORCHUP_REAL_TORCH_CACHE   default $HOME/.cache/torchup-dev/real-torch
#     torch-2.5.1/             the venv for the tier (torch 2.5.1 = the CUDA 12.4 build on PyPI)
#     torch-2.13.0/            the venv whose libtorch the `torch` feature links against
#     pip-cache/               pip's own cache
#     work/                    the tests' hard-linked copies (same filesystem as the venvs)
# Isolation: PIP_CONFIG_FILE=/dev/null and no PIP_INDEX_URL / PIP_EXTRA_INDEX_URL /
# PIP_FIND_LINKS, so only PyPI itself is asked. A venv is only used once its install finished
# (the `.complete` marker); an interrupted download restarts (pip's cache keeps what arrived).
set -euo pipefail
cd "$(dirname "$0")/.."

CI_MODE=0
[ "${1:-}" = "--ci" ] && CI_MODE=1
CACHE=${TORCHUP_REAL_TORCH_CACHE:-$HOME/.cache/torchup-dev/real-torch}
TIER_TORCH=2.5.1
TCH_TORCH=2.13.0  # tch 0.26 pins libtorch 2.13
START=$(date +%s)

say() { printf '\n=== real-torch: %s (%s)\n' "$1" "$(date +%T)"; }
elapsed() { echo $(($(date +%s) - START)); }

skip() {
  echo
  echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
  echo "!!! REAL-TORCH TIER SKIPPED: $1"
  echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
  exit 0
}

pip_env() {
  env -u PIP_INDEX_URL -u PIP_EXTRA_INDEX_URL -u PIP_FIND_LINKS -u PIP_REQUIRE_VIRTUALENV \
    PIP_CONFIG_FILE=/dev/null PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 "$@"
}

base_python() {
  for p in python3 python; do
    if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import sys, venv; sys.exit(sys.version_info < (3, 9))' 2>/dev/null; then
      echo "$p"
      return
    fi
  done
  return 1
}

pypi_answers() {
  "$1" - <<'EOF'
import sys, urllib.request
try:
    with urllib.request.urlopen("https://pypi.org/simple/torch/", timeout=15) as r:
        sys.exit(0 if r.status == 200 else 1)
except Exception as e:
    print(e, file=sys.stderr)
    sys.exit(1)
EOF
}

# ensure_venv VERSION: the cached venv with torch==VERSION (created once, reused after).
ensure_venv() {
  local version=$1 venv="$CACHE/torch-$1"
  if [ -f "$venv/.complete" ] && "$venv/bin/python" -c 'import sys' 2>/dev/null; then
    echo "reusing $venv"
    return 0
  fi
  local py
  py=$(base_python) || { echo "no Python >= 3.9 with venv to create $venv" >&2; return 1; }
  rm -rf "$venv.partial"
  mkdir -p "$CACHE"
  "$py" -m venv "$venv.partial"
  local t0
  t0=$(date +%s)
  pip_env "$venv.partial/bin/python" -m pip install --cache-dir "$CACHE/pip-cache" --progress-bar off \
    "torch==$version" 2>&1 | tail -n 3
  [ "${PIPESTATUS[0]}" = 0 ] || return 1
  rm -rf "$venv"
  mv "$venv.partial" "$venv"
  touch "$venv/.complete"
  echo "installed torch==$version in $(($(date +%s) - t0)) s: $(du -sh "$venv" | cut -f1) in $venv"
}

PY=$(base_python) || {
  [ $CI_MODE = 1 ] && skip "no Python >= 3.9 with the venv module"
  echo "no Python >= 3.9 with the venv module" >&2
  exit 1
}

say "torch==$TIER_TORCH venv under $CACHE"
if ! [ -f "$CACHE/torch-$TIER_TORCH/.complete" ]; then
  if ! reason=$(pypi_answers "$PY" 2>&1); then
    [ $CI_MODE = 1 ] && skip "PyPI (https://pypi.org/simple/torch/) did not answer: ${reason:-no answer}"
    echo "PyPI did not answer: $reason" >&2
    exit 1
  fi
fi
if ! ensure_venv "$TIER_TORCH"; then
  # PyPI answered, so a failed install is a failure of the tier, not a reason to skip.
  echo "REAL-TORCH TIER FAILED: could not install torch==$TIER_TORCH from PyPI" >&2
  exit 1
fi
VENV="$CACHE/torch-$TIER_TORCH"
mkdir -p "$CACHE/work"

# The torch 2.13.0 venv (made below, outside CI) adds the cuSPARSELt / cuda-toolkit cases
# and the real cuDNN incompatibility when it is already in the cache.
if [ -f "$CACHE/torch-$TCH_TORCH/.complete" ]; then
  export TORCHUP_REAL_TORCH_2130_VENV="$CACHE/torch-$TCH_TORCH"
fi
say "cargo test --test real_torch -- --ignored"
TORCHUP_REAL_TORCH_VENV="$VENV" TORCHUP_REAL_TORCH_WORK="$CACHE/work" \
  cargo test --test real_torch -- --ignored --test-threads=1 --nocapture
echo "REAL-TORCH TIER PASSED in $(elapsed) s (venv $(du -sh "$VENV" | cut -f1), cache $(du -sh "$CACHE" | cut -f1))"

if [ $CI_MODE = 1 ]; then
  exit 0
fi

say "feature torch: libtorch from torch==$TCH_TORCH"
if ! ensure_venv "$TCH_TORCH"; then
  echo "could not install torch==$TCH_TORCH: the libtorch check was NOT built" >&2
  exit 1
fi
TCH_VENV="$CACHE/torch-$TCH_TORCH"
# LIBTORCH_USE_PYTORCH=1: torch-sys asks the `python` on PATH for torch's lib directory.
# The default target dir: only torchup, tch and torch-sys are rebuilt (the next plain build
# rebuilds torchup without the feature).
PATH="$TCH_VENV/bin:$PATH" LIBTORCH_USE_PYTORCH=1 cargo build --features torch
bin="${CARGO_TARGET_DIR:-target}/debug/torchup"
# torchup's own state dir for these runs, so the developer's state and logs stay untouched.
export TORCHUP_STATE_DIR="$CACHE/work/torchup-state"
set +e
out=$("$bin" libtorch-check --json)
code=$?
set -e
echo "$out"
echo "torchup libtorch-check exit code: $code"
echo "$out" | "$PY" -c '
import json, sys
doc = json.load(sys.stdin)
assert doc["cuda_available"] is False, doc
assert doc["ok"] is False, doc
print("libtorch-check answered: cuda_available false (no GPU here)")
'
[ "$code" = 1 ] || { echo "expected exit 1 without a GPU, got $code" >&2; exit 1; }
# doctor built with the feature reports the libtorch check beside the Python smoke test.
"$bin" doctor --json --python "$VENV/bin/python" | "$PY" -c '
import json, sys
doc = json.load(sys.stdin)
lt = doc["libtorch"]
assert lt["cuda_available"] is False and lt["checks"][0]["name"] == "cuda_available", lt
assert doc["verify"]["torch"]["cuda"] == "12.4", doc["verify"]["torch"]
print("doctor: libtorch check beside the Python smoke test:", lt["checks"][0]["detail"])
'
rm -rf "$TORCHUP_STATE_DIR"
echo "real-torch script done in $(elapsed) s"
