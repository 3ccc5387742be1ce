#!/usr/bin/env bash
# What --checkpoint-every costs: the same training run with the resumable state written after every step
# (--checkpoint-every 0) and only at epoch ends (off), alternated ROUNDS times; prints the seconds per
# write and what that is at the default interval (15 minutes). Usage: bench/checkpoint_cost.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
G=.build/release/galaxy
ROUNDS=${1:-3}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
$G synth --count 100 --seed 5 --out "$W/data" > /dev/null 2>&1
$G prepare "$W/data" > /dev/null 2>&1
steps=10   # 80 training images at batch 8, one epoch
run() {  # $1: --checkpoint-every value; prints the epoch's seconds from metrics.csv
  rm -rf "$W/run"
  $G train --data "$W/data" --run "$W/run" --epochs 1 --batch 8 --no-augment --checkpoint-every "$1" > /dev/null 2>&1
  tail -1 "$W/run/metrics.csv" | cut -d, -f5
}
run off > /dev/null   # compile the pipelines once
every=(); off=()
for r in $(seq "$ROUNDS"); do
  if [ $((r % 2)) = 1 ]; then every+=("$(run 0)"); off+=("$(run off)"); else off+=("$(run off)"); every+=("$(run 0)"); fi
done
python3 - "$steps" "${every[*]}" "${off[*]}" <<'PY'
import statistics, sys
steps = int(sys.argv[1]); every = [float(x) for x in sys.argv[2].split()]; off = [float(x) for x in sys.argv[3].split()]
e, o = statistics.median(every), statistics.median(off)
per = (e - o) / (steps - 1)   # the last step's state is the epoch end's, written either way
print(f"epoch seconds, state after every step: {every} (median {e:.2f})")
print(f"epoch seconds, state at epoch ends:    {off} (median {o:.2f})")
print(f"one mid-epoch write of the resumable state: {per * 1000:.0f} ms")
print(f"at the default --checkpoint-every 15m: {100 * per / 900:.4f}% of training time")
PY
