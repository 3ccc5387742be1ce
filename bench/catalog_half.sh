#!/bin/bash
# Usage: bench/catalog_half.sh   (from the repository root, after `swift build -c release` and `make bench-peer`)
# What `galaxy catalog --decode half` changes in a trained model's answers: the demo's model (make demo's data,
# 1,200 synthetic galaxies of seed 7, and its recipe, DEMO_RECIPE in the Makefile) catalogues its own test split
# (the seed's split: numpy's RandomState(42).permutation, the first 20%) at full and at half decoding size; prints
# the model's test RMSE (galaxy eval), each catalogue's RMSE against the true answers, and the RMSE between the two.
# BENCH_DIR keeps the data and the trained run between runs.
set -euo pipefail
galaxy=${GALAXY:-.build/release/galaxy}
python=.venv-torch/bin/python   # for numpy
[ -x "$python" ] || { echo "bench/catalog_half.sh: run 'make bench-peer' first (numpy in .venv-torch)" >&2; exit 1; }
dir=${BENCH_DIR:-$(mktemp -d)}
data=$dir/demo-data
run=$dir/demo-run
recipe=$(sed -n 's/^DEMO_RECIPE := //p' Makefile)
[ -d "$data" ] || "$galaxy" synth --count 1200 --seed 7 --out "$data" >/dev/null
# shellcheck disable=SC2086  # the recipe is a list of options
[ -f "$run/best.safetensors" ] || "$galaxy" train --data "$data" --run "$run" --overwrite $recipe >/dev/null 2>&1
"$galaxy" eval --checkpoint "$run/best.safetensors" --data "$data" 2>/dev/null | head -2
"$python" - "$data" "$dir/test.csv" <<'PY'
import math, sys, numpy as np
data, out = sys.argv[1:3]
ids = [l.split(",")[0] for l in open(f"{data}/training_solutions_rev1.csv").read().splitlines()[1:]]
test = np.random.RandomState(42).permutation(len(ids))[:math.ceil(0.2 * len(ids))]
with open(out, "w") as f:
    f.write("path,GalaxyID\n" + "".join(f"{data}/images_training_rev1/{ids[i]}.jpg,{ids[i]}\n" for i in test))
PY
for decode in full half; do
  "$galaxy" catalog --checkpoint "$run/best.safetensors" --list "$dir/test.csv" --out "$dir/$decode.csv" --decode "$decode" --overwrite 2>/dev/null
done
python3 - "$data/training_solutions_rev1.csv" "$dir/full.csv" "$dir/half.csv" <<'PY'
import sys
def table(p):
    lines = open(p).read().splitlines()
    return {l.split(",")[0]: [float(v) for v in l.split(",")[1:]] for l in lines[1:]}
truth, full, half = (table(p) for p in sys.argv[1:4])
def rmse(a, b):
    d = [(x - y) ** 2 for k in a for x, y in zip(a[k], b[k])]
    return (sum(d) / len(d)) ** 0.5
print(f"{len(full)} test images: RMSE against the truth {rmse(full, truth):.5f} (full), {rmse(half, truth):.5f} (--decode half); "
      f"between the two {rmse(half, full):.6f}")
PY
