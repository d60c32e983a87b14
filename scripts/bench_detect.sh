#!/usr/bin/env bash
# Time `torchup detect` on an active venv against a bare Python start-up (`python -c pass`)
# of the same venv, and print the ratio. The target is "about one Python start-up".
#
# Usage: scripts/bench_detect.sh [RUNS]        (default 30 runs; hyperfine when installed,
#                                               otherwise a loop timed with date +%s%N)
# Uses python3 on PATH to make a throw-away venv; respects CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-30}"

cargo build --release --quiet
bin="${CARGO_TARGET_DIR:-target}/release/torchup"

work="$(mktemp -d "${TMPDIR:-/tmp}/torchup bench.XXXXXX")"
trap 'rm -rf "$work"' EXIT
venv="$work/venv"
python3 -m venv --without-pip "$venv"
py="$venv/bin/python"
export VIRTUAL_ENV="$venv"
export TORCHUP_STATE_DIR="$work/state"

# Everything must work before it is timed.
"$bin" detect --json >/dev/null

echo "machine: $(nproc) cores, $(uname -sr); python: $("$py" -c 'import sys; print(sys.version.split()[0])')"
echo "candidates found on this machine: $("$bin" detect --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["python_candidates"]))')"

mean_ms() { # command... -> mean wall time in ms over $runs runs
  local start end
  start=$(date +%s%N)
  for _ in $(seq "$runs"); do "$@" >/dev/null; done
  end=$(date +%s%N)
  echo $(( (end - start) / runs / 1000000 ))
}

if command -v hyperfine >/dev/null 2>&1; then
  json="$work/hyperfine.json"
  hyperfine --warmup 3 --runs "$runs" --export-json "$json" \
    -n 'python -c pass' "'$py' -c pass" \
    -n 'torchup detect --json' "'$bin' detect --json" \
    -n 'torchup detect --json (PATH=/usr/bin:/bin)' "env PATH=/usr/bin:/bin '$bin' detect --json" >&2
  python3 - "$json" <<'EOF'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
base = r["python -c pass"]["mean"] * 1000
for name, x in r.items():
    ms = x["mean"] * 1000
    print("%-46s %7.1f ms ± %5.1f  (%.2fx python -c pass)" % (name, ms, x["stddev"] * 1000, ms / base))
EOF
else
  for _ in 1 2 3; do "$py" -c pass; "$bin" detect --json >/dev/null; done
  base=$(mean_ms "$py" -c pass)
  detect=$(mean_ms "$bin" detect --json)
  printf '%-26s %5d ms\n' 'python -c pass' "$base"
  printf '%-26s %5d ms\n' 'torchup detect --json' "$detect"
  awk -v d="$detect" -v b="$base" 'BEGIN { if (b > 0) printf "ratio: %.2fx\n", d / b }'
fi
