#!/usr/bin/env bash
# Benchmark: `torchup verify --json` against running the smoke script by hand
# (`python smoke_test.py`) with the same interpreter, environment and torch. Budget
# (issue 4): verify costs at most 10% more.
#
# The torch is the test kit's fake (tests/support/fake_torch), built into a real wheel by
# tests/support/wheelbuild.py and installed by real pip into a temp venv; the GPU is the
# kit's simulated RTX 3050 Laptop (TORCHUP_FAKE_GPU), so kernel and CPU times are simulated
# at realistic rates; the GPU facts come from the recorded RTX 3050 Laptop nvidia-smi (three
# child processes, run alongside the smoke test as on a real machine).
#
# usage: scripts/bench_verify.sh [ROUNDS]      (default 30; each round runs both, interleaved)
#   TORCHUP_BIN=path   the binary to measure (default: cargo build --release, then use it)
#   BENCH_SCALES="1;0.01"  the kit's time_scale values to measure: 1 = simulated work at
#     real rates (the script's own checks take ~1 s, like a small real GPU run); 0.01 = the
#     work almost vanishes and interpreter start-up dominates, the harshest case for the
#     ratio. A real `import torch` alone takes 1-3 s, so real runs sit far below both.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-30}
SCALES=${BENCH_SCALES:-'1;0.01'}

if [ -z "${TORCHUP_BIN:-}" ]; then
  cargo build --release --quiet
  TORCHUP_BIN="${CARGO_TARGET_DIR:-target}/release/torchup"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/torchup bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
base=$(python3 -c 'import sys; print(sys.executable)')
export PIP_CONFIG_FILE=/dev/null PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 HOME="$work/home"
unset PIP_INDEX_URL PIP_EXTRA_INDEX_URL
mkdir -p "$work/home" "$work/state" "$work/wheels"

# One torch 2.5.1+cu124 wheel for this interpreter, with the official build's arch list.
"$base" - "$work" "$PWD/tests/support" <<'EOF'
import json, subprocess, sys, sysconfig
work, support = sys.argv[1], sys.argv[2]
tag = "cp%d%d" % sys.version_info[:2]
req = {"source_root": support + "/fake_torch", "out_dir": work + "/wheels", "wheels": [{
    "package": "torch", "version": "2.5.1", "local": "cu124", "python_tag": tag, "abi_tag": tag,
    "platform_tag": sysconfig.get_platform().replace("-", "_").replace(".", "_"),
    "requires": [], "requires_python": ">=3.8.0",
    "build": {"cuda": "12.4", "os": "linux", "version": "2.5.1+cu124", "cudnn": 90100,
              "arch_list": ["sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90"]}}]}
open(work + "/req.json", "w").write(json.dumps(req))
subprocess.run([sys.executable, support + "/wheelbuild.py", work + "/req.json"], check=True, stdout=subprocess.DEVNULL)
EOF
"$base" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --no-index "$work"/wheels/torch-*.whl
cp assets/smoke_test.py "$work/smoke_test.py"

echo "binary: $TORCHUP_BIN"
echo "python: $("$work/venv/bin/python" -c 'import sys; print(sys.version.split()[0])') in a venv, fake torch 2.5.1+cu124 installed by pip"
echo "load:   $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown) on $(nproc 2>/dev/null || echo '?') cores"

# The timing loop runs in the base Python (not measured); both sides get the same
# isolated environment and the same /dev/null stdout and stderr.
IFS=';' read -r -a scales <<<"$SCALES"
for scale in "${scales[@]}"; do
  "$base" - "$ROUNDS" "$work" "$TORCHUP_BIN" "$scale" "$PWD/tests/fixtures/nvidia-smi/rtx3050-laptop-581/nvidia-smi" <<'EOF'
import json, statistics, subprocess, sys, time
rounds, work, torchup, scale, smi = int(sys.argv[1]), sys.argv[2], sys.argv[3], float(sys.argv[4]), sys.argv[5]
py = work + "/venv/bin/python"
gpu = {"devices": [{"name": "NVIDIA GeForce RTX 3050 Laptop GPU", "memory_mib": 4096, "cc": [8, 6], "gflops": 5500}],
       "driver_cuda": "13.0", "time_scale": scale}
env = {"PATH": "/usr/bin:/bin", "HOME": work + "/home", "PYTHONDONTWRITEBYTECODE": "1",
       "TORCHUP_FAKE_GPU": json.dumps(gpu), "TORCHUP_STATE_DIR": work + "/state",
       "TORCHUP_CACHE_DIR": work + "/cache", "TORCHUP_NVIDIA_SMI": smi, "NO_COLOR": "1"}
sides = {"by hand": [py, work + "/smoke_test.py"],
         "torchup verify": [torchup, "verify", "--json", "--python", py]}
times = {k: [] for k in sides}
for _ in range(rounds):
    for name, argv in sides.items():
        t = time.perf_counter()
        subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times[name].append((time.perf_counter() - t) * 1000)
print("\nsimulated time scale %g  (%d rounds, interleaved)" % (scale, rounds))
med = {k: statistics.median(v) for k, v in times.items()}
for k, v in times.items():
    print("  %-15s median %7.1f ms   mean %7.1f ms   min %7.1f ms" % (k, med[k], statistics.mean(v), min(v)))
r = med["torchup verify"] / med["by hand"]
print("  ratio (median) %.3f  (%+.1f%%, %+.1f ms; budget +10%%) %s"
      % (r, (r - 1) * 100, med["torchup verify"] - med["by hand"], "OK" if r <= 1.10 else "OVER BUDGET"))
EOF
done
