#!/usr/bin/env bash
# Benchmark: the real wizard in a real terminal (tmux, 120x40).
#   1. first frame: from starting the session to the header on the screen (polled every 5 ms);
#   2. idle CPU: the wizard sitting on the Check screen (detection finished) for IDLE seconds,
#      from /proc/<pid>/stat utime+stime before/after, and the wakeups (context switches of
#      all its threads) in that time;
#   3. peak memory: VmHWM of the wizard after the whole flow (Check -> Choose cu124 -> Review
#      -> Proceed -> Run -> Result "GPU computation test: PASSED").
#
# The venv holds the test kit's fake torch 2.5.1+cpu (tests/support/wheelbuild.py, installed by
# real pip); a python http.server on 127.0.0.1 serves the fake 2.5.1+cu124 wheel as a plain
# directory index (<root>/whl/<variant>/torch/); the GPU is the kit's simulated RTX 3050 Laptop
# (TORCHUP_FAKE_GPU) with its recorded nvidia-smi. Linux only (/proc).
#
# usage: scripts/bench_tui.sh [IDLE_SECONDS]     (default 10)
#   TORCHUP_BIN=path   the binary to measure (default: cargo build --release, then use it)
set -euo pipefail
cd "$(dirname "$0")/.."
IDLE=${1:-10}
command -v tmux >/dev/null || { echo "bench_tui: tmux is not installed" >&2; exit 3; }

if [ -z "${TORCHUP_BIN:-}" ]; then
  cargo build --release --quiet
  TORCHUP_BIN="${CARGO_TARGET_DIR:-target}/release/torchup"
fi
TORCHUP_BIN=$(realpath "$TORCHUP_BIN")

work=$(mktemp -d "${TMPDIR:-/tmp}/torchup bench.XXXXXX")
sock="torchup-bench-$$"
server_pid=
cleanup() {
  tmux -L "$sock" kill-server 2>/dev/null || true
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM
base=$(python3 -c 'import sys; print(sys.executable)')
export PIP_CONFIG_FILE=/dev/null PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 HOME="$work/home"
unset PIP_INDEX_URL PIP_EXTRA_INDEX_URL
mkdir -p "$work/home" "$work/state" "$work/cache" "$work/tmp"

# The torch 2.5.1 family (torch, torchvision, torchaudio; cpu and cu124) for this interpreter,
# in the index's layout.
"$base" - "$work" "$PWD/tests/support" <<'EOF'
import json, subprocess, sys, sysconfig
work, support = sys.argv[1], sys.argv[2]
tag = "cp%d%d" % sys.version_info[:2]
plat = sysconfig.get_platform().replace("-", "_").replace(".", "_")
py = "%d.%d" % sys.version_info[:2]
for local, cuda, arches in (("cpu", None, []), ("cu124", "12.4", ["sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90"])):
    for pkg, version in (("torch", "2.5.1"), ("torchvision", "0.20.1"), ("torchaudio", "2.5.1")):
        if pkg == "torch":
            build = {"cuda": cuda, "os": "linux", "version": "2.5.1+" + local, "cudnn": 90100 if cuda else None,
                     "arch_list": arches}
            requires = []
        else:
            build = {"cuda": cuda, "os": "linux", "version": "%s+%s" % (version, local), "torch_version": "2.5.1",
                     "python": py}
            requires = ["torch==2.5.1"]
        req = {"source_root": support + "/fake_torch", "out_dir": "%s/idx/whl/%s/%s" % (work, local, pkg), "wheels": [{
            "package": pkg, "version": version, "local": local, "python_tag": tag, "abi_tag": tag,
            "platform_tag": plat, "requires": requires, "requires_python": ">=3.8.0", "build": build}]}
        open(work + "/req.json", "w").write(json.dumps(req))
        subprocess.run([sys.executable, support + "/wheelbuild.py", work + "/req.json"], check=True,
                       stdout=subprocess.DEVNULL)
EOF
"$base" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --no-index "$work"/idx/whl/cpu/*/*.whl

port=$("$base" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$base" -m http.server --bind 127.0.0.1 --directory "$work/idx" "$port" >/dev/null 2>&1 &
server_pid=$!

gpu='{"devices":[{"name":"NVIDIA GeForce RTX 3050 Laptop GPU","memory_mib":4096,"cc":[8,6],"gflops":5500}],"driver_cuda":"13.0"}'
t() { tmux -L "$sock" -f /dev/null "$@"; }
screen() { t capture-pane -p -t bench; }
# Poll a pane (every 5 ms) until it shows TEXT; give up after SECONDS. The screen is read
# into a variable first: with pipefail, `capture-pane | grep -q` fails when grep exits early.
wait_in() { # SESSION TEXT SECONDS
  local end=$((SECONDS + $3)) s
  while :; do
    s=$(t capture-pane -p -t "$1")
    case "$s" in *"$2"*) return 0 ;; esac
    if [ $SECONDS -ge $end ]; then printf 'bench_tui: timed out waiting for "%s"; the screen:\n%s\n' "$2" "$s" >&2; exit 1; fi
    sleep 0.005
  done
}
wait_for() { wait_in bench "$1" "$2"; }
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
switches() { cat /proc/"$1"/task/*/status | awk '/_ctxt_switches/ { n += $2 } END { print n }'; }

echo "binary: $TORCHUP_BIN"
echo "load:   $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"

# Baseline for the first frame: tmux starting a session whose program prints at once.
start=$("$base" -c 'import time; print(time.monotonic())')
t new-session -d -s base -x 120 -y 40 -- /bin/sh -c "printf ' torchup  Check'; exec sleep 60"
wait_in base ' torchup  Check' 30
baseline=$("$base" -c "import time; print('%.0f' % ((time.monotonic() - $start) * 1000))")
t kill-session -t base

start=$("$base" -c 'import time; print(time.monotonic())')
t new-session -d -s bench -x 120 -y 40 -- env -i PATH=/usr/bin:/bin HOME="$work/home" TERM=tmux-256color LANG=C.UTF-8 \
  TORCHUP_STATE_DIR="$work/state" TORCHUP_CACHE_DIR="$work/cache" TMPDIR="$work/tmp" PIP_CONFIG_FILE=/dev/null \
  PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 TORCHUP_FAKE_GPU="$gpu" \
  TORCHUP_NVIDIA_SMI="$PWD/tests/fixtures/nvidia-smi/rtx3050-laptop-581/nvidia-smi" \
  "$TORCHUP_BIN" --python "$work/venv/bin/python" --index-url "http://127.0.0.1:$port/whl"
wait_for ' torchup  Check' 30
first=$("$base" -c "import time; print('%.0f' % ((time.monotonic() - $start) * 1000))")
pid=$(t display-message -p -t bench '#{pane_pid}')   # env execs torchup: the pane's process is the wizard
wait_for "CPU-only build" 60
sleep 1   # let detection's last messages and the redraw settle
hz=$(getconf CLK_TCK)
c0=$(ticks "$pid"); w0=$(switches "$pid")
sleep "$IDLE"
c1=$(ticks "$pid"); w1=$(switches "$pid")
rss_idle=$(awk '/VmRSS/ { print $2 }' "/proc/$pid/status")
"$base" - "$c0" "$c1" "$hz" "$IDLE" "$w0" "$w1" "$first" "$rss_idle" "$baseline" <<'EOF'
import sys
c0, c1, hz, idle, w0, w1, first, rss, baseline = (float(a) for a in sys.argv[1:])
cpu = (c1 - c0) / hz
print("first frame through tmux: %.0f ms from starting the session to the header on the screen"
      " (tmux alone, a program that prints at once: %.0f ms)" % (first, baseline))
print("idle on the Check screen for %g s: %.2f CPU s = %.2f %% of one core (resolution %.0f ms);"
      " %d wakeups (context switches, all threads)" % (idle, cpu, 100 * cpu / idle, 1000 / hz, w1 - w0))
print("resident memory on the Check screen: %.1f MB" % (rss / 1024))
EOF

# The whole flow: Choose (cursor to cu124), Review, Proceed, Run, Result.
t send-keys -t bench Enter
wait_for "the guide's choice" 60
choose=$(screen)
cursor=$(awk '/^│→/ { print NR; exit }' <<<"$choose")
row=$(awk '/ cu124  2\.5\.1 / { print NR; exit }' <<<"$choose")
for _ in $(seq $((row - cursor))); do t send-keys -t bench Down; done
sleep 0.3
t send-keys -t bench Enter
wait_for "run these commands now" 60
t send-keys -t bench Enter
wait_for "GPU computation test: PASSED" 120
"$base" - "$pid" "$(ticks "$pid")" "$hz" "$(switches "$pid")" <<'EOF'
import sys
pid, ticks, hz, switches = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
status = dict(l.split(":", 1) for l in open("/proc/%s/status" % pid))
kb = lambda k: int(status[k].split()[0])
print("peak memory over the flow (VmHWM): %.1f MB; resident at the Result screen: %.1f MB"
      % (kb("VmHWM") / 1024, kb("VmRSS") / 1024))
print("for reference, the wizard's CPU over its whole life so far: %.2f s, %d context switches" % (ticks / hz, switches))
EOF
t send-keys -t bench q
