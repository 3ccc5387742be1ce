#!/bin/bash
# Usage: bench/ab.sh OLD_GALAXY NEW_GALAXY [ROUNDS]
# Runs `galaxy bench --runs 3 --json` of two builds alternately (the order flips every round, since on a
# shared machine whichever runs first in a pair tends to win), prints each run's figures with its own SGEMM
# ceiling, and the per-round ratios new / old. Build an old revision beside this one with
#   git worktree add ../old REV && (cd ../old && swift build -c release --product galaxy)
set -euo pipefail
old=$1 new=$2 rounds=${3:-5}
dir=$(mktemp -d)
for round in $(seq 1 "$rounds"); do
  order="old new"; [ $((round % 2)) -eq 0 ] && order="new old"
  for v in $order; do
    bin=$old; [ "$v" = new ] && bin=$new
    "$bin" bench --runs 3 --json 2>/dev/null > "$dir/$v-$round.json"
  done
done
python3 - "$dir" "$rounds" <<'PY'
import json, statistics, sys
d, n = sys.argv[1], int(sys.argv[2])
runs = {v: [json.load(open(f"{d}/{v}-{i}.json")) for i in range(1, n + 1)] for v in ("old", "new")}
keys = ("train_images_per_second", "inference_images_per_second")
for i in range(n):
    o, w = runs["old"][i], runs["new"][i]
    print(f"round {i + 1}: old {o[keys[0]]:.2f} / {o[keys[1]]:.2f} (ceiling {o['sgemm_ceiling_gflops']:.2f}), "
          f"new {w[keys[0]]:.2f} / {w[keys[1]]:.2f} (ceiling {w['sgemm_ceiling_gflops']:.2f}), "
          f"ratio {w[keys[0]] / o[keys[0]]:.3f} / {w[keys[1]] / o[keys[1]]:.3f}")
for k in keys:
    o = statistics.median(r[k] for r in runs["old"]); w = statistics.median(r[k] for r in runs["new"])
    print(f"{k}: median old {o:.2f}, new {w:.2f}, ratio {w / o:.3f}")
PY
