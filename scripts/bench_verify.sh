#!/usr/bin/env bash
# Benchmark: `torchup verify --json` against running the smoke script by hand
# (`python smoke_test.py`) with the same interpreter (a temp venv), environment and fake
# torch. Budget (issue 4): verify costs at most 10% more.
#
# usage: scripts/bench_verify.sh [ROUNDS]      (default 30; each round runs both, interleaved)
#   TORCHUP_BIN=path   the binary to measure (default: cargo build --release, then use it)
#   BENCH_SPECS="json;json"  fake torch behaviours to measure, separated by ';'. Default:
#     a steady cost per matmul (the script's work resembles a small real GPU run), then '{}'
#     (bare: the script does almost nothing, the harshest case for the ratio). A real
#     `import torch` alone takes 1-3 s, so real runs sit far below both.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-30}
SPECS=${BENCH_SPECS:-'{"matmul_ms": {"cpu": 20, "cuda": 2}};{}'}

if [ -z "${TORCHUP_BIN:-}" ]; then
  cargo build --release --quiet
  TORCHUP_BIN="${CARGO_TARGET_DIR:-target}/release/torchup"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/torchup bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
base=$(python3 -c 'import sys; print(sys.executable)')
"$base" -m venv --without-pip "$work/venv"
mkdir -p "$work/fake/torch" "$work/home" "$work/state"
cp tests/smoke_fake/torch_init.py "$work/fake/torch/__init__.py"
cp assets/smoke_test.py "$work/smoke_test.py"

echo "binary: $TORCHUP_BIN"
echo "python: $("$work/venv/bin/python" -c 'import sys; print(sys.version.split()[0])') in a venv"
echo "load:   $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown) on $(nproc 2>/dev/null || echo '?') cores"

# The timing loop runs in the base Python (not measured); both sides get the same
# isolated environment and the same /dev/null stdout and stderr.
IFS=';' read -r -a specs <<<"$SPECS"
for spec in "${specs[@]}"; do
  "$base" - "$ROUNDS" "$work" "$TORCHUP_BIN" "$spec" <<'EOF'
import statistics, subprocess, sys, time
rounds, work, torchup, spec = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
py = work + "/venv/bin/python"
env = {"PATH": "/usr/bin:/bin", "HOME": work + "/home", "PYTHONPATH": work + "/fake",
       "PYTHONNOUSERSITE": "1", "PYTHONDONTWRITEBYTECODE": "1", "FAKE_TORCH_SPEC": spec,
       "TORCHUP_STATE_DIR": work + "/state", "TORCHUP_CACHE_DIR": work + "/cache", "NO_COLOR": "1"}
sides = {"by hand": [py, work + "/smoke_test.py"],
         "torchup verify": [torchup, "verify", "--json", "--python", py]}
times = {k: [] for k in sides}
for _ in range(rounds):
    for name, argv in sides.items():
        t = time.perf_counter()
        subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times[name].append((time.perf_counter() - t) * 1000)
print("\nfake torch spec: %s  (%d rounds, interleaved)" % (spec, rounds))
med = {k: statistics.median(v) for k, v in times.items()}
for k, v in times.items():
    print("  %-15s median %7.1f ms   mean %7.1f ms   min %7.1f ms" % (k, med[k], statistics.mean(v), min(v)))
r = med["torchup verify"] / med["by hand"]
print("  ratio (median) %.3f  (%+.1f%%, %+.1f ms; budget +10%%) %s"
      % (r, (r - 1) * 100, med["torchup verify"] - med["by hand"], "OK" if r <= 1.10 else "OVER BUDGET"))
EOF
done
