#!/usr/bin/env bash
# Benchmark: `torchup explain` on a 100 MB synthetic training log whose error is at the end.
#
# The log is what a long run prints: epoch/step/loss lines, tqdm progress redraws with `\r`,
# ANSI colours, a deprecation warning every few thousand lines, and at the very end a CUDA
# out-of-memory traceback. Measured with /usr/bin/time -v: wall time and peak memory (max
# RSS) of `torchup explain FILE --no-detect --json`, and the same with detection of this
# machine (--no-detect left out). The answer must be F26 with the evidence on the last lines.
#
# usage: scripts/bench_explain.sh [MEGABYTES]        (default 100)
#   TORCHUP_BIN=path   the binary to measure (default: cargo build --release, then use it)
set -euo pipefail
cd "$(dirname "$0")/.."
MB=${1:-100}
[ -x /usr/bin/time ] || { echo "bench_explain: /usr/bin/time is not installed" >&2; exit 3; }
if [ -z "${TORCHUP_BIN:-}" ]; then
  cargo build --release --quiet
  TORCHUP_BIN="${CARGO_TARGET_DIR:-target}/release/torchup"
fi
TORCHUP_BIN=$(realpath "$TORCHUP_BIN")
work=$(mktemp -d "${TMPDIR:-/tmp}/torchup-bench-explain.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
log="$work/train.log"

python3 - "$log" "$MB" <<'PY'
import random, sys
path, mb = sys.argv[1], int(sys.argv[2])
target = mb * 1024 * 1024
rnd = random.Random(13)
with open(path, "w", encoding="utf-8", newline="\n") as f:
    size, step = 0, 0
    while size < target:
        step += 1
        if step % 5000 == 0:
            line = ("FutureWarning: `torch.cuda.amp.GradScaler(args...)` is deprecated. "
                    "Please use `torch.amp.GradScaler('cuda', args...)` instead.\n")
        elif step % 50 == 0:
            bar = "".join(f"\r\x1b[32m{p:3d}%|{'#' * (p // 10):<10}| {p}/100 [00:{p:02d}<00:30, 3.2it/s]\x1b[0m" for p in range(0, 101, 20))
            line = f"Epoch {step // 1000}: {bar}\n"
        else:
            line = (f"2026-12-06 04:{step % 60:02d}:{step % 59:02d} INFO step {step} loss {rnd.random():.5f} "
                    f"lr {1e-4 * rnd.random():.3e} grad_norm {rnd.random() * 3:.3f} tokens/s {rnd.randint(900, 1400)}\n")
        f.write(line)
        size += len(line)
    f.write("""Traceback (most recent call last):
  File "/home/user/project/train_gpu.py", line 88, in <module>
    loss.backward()
  File "/home/user/venv/lib/python3.11/site-packages/torch/_tensor.py", line 521, in backward
    torch.autograd.backward(
torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 256.00 MiB. GPU 0 has a total capacity of 4.00 GiB of which 108.31 MiB is free. Of the allocated memory 3.41 GiB is allocated by PyTorch, and 65.23 MiB is reserved by PyTorch but unallocated.
""")
PY
bytes=$(stat -c %s "$log")
echo "log: $((bytes / 1024 / 1024)) MiB, $(wc -l < "$log") lines"

measure() {
  local label=$1; shift
  /usr/bin/time -v "$TORCHUP_BIN" explain "$log" --json "$@" > "$work/out.json" 2> "$work/time.txt" || true
  local wall rss
  wall=$(grep 'Elapsed (wall clock)' "$work/time.txt" | awk '{print $NF}')
  rss=$(grep 'Maximum resident set size' "$work/time.txt" | awk '{print $NF}')
  local got
  got=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(",".join(x["id"] for x in d["diagnoses"]), d["diagnoses"][0]["evidence_lines"][0]["line"] if d["diagnoses"] else "-")' "$work/out.json")
  echo "$label: wall ${wall} s, peak RSS $((rss / 1024)) MiB, findings $got"
  case "$got" in F26*) ;; *) echo "bench_explain: expected F26 first, got $got" >&2; exit 1;; esac
}
measure "explain --no-detect" --no-detect
measure "explain --no-detect" --no-detect
measure "explain (with detection)"
