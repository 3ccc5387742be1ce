#!/usr/bin/env bash
# The GPU kit's check (make gpu-kit): on a Linux x86-64 machine with a Vulkan driver and no Swift.
#   ./run.sh [OUT]     writes OUT/report.json (default: ./out) and the logs of each part beside it
# (a) the shader and network correctness checks on the GPU (galaxy selftest), (a2) the driver's statistics of every
# pipeline (galaxy bench --shader-stats: registers, spills, shared memory, occupancy), (b) galaxy bench at
# batch 128 and 512, (c) one timed training epoch of 49,262 synthetic galaxies at batch 128, (d) the
# seed's PyTorch model on the same GPU when PyTorch with CUDA is there. Exit status: that of (a).
# KIT_EPOCH_IMAGES, KIT_BATCHES, KIT_BENCH_RUNS and KIT_SELFTEST_ARGS shrink it for the dry run on lavapipe.
set -u
kit=$(cd "$(dirname "$0")" && pwd)
out=${1:-$kit/out}
mkdir -p "$out" || exit 1
out=$(cd "$out" && pwd)
export LD_LIBRARY_PATH="$kit/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
galaxy="$kit/galaxy"
if [ ! -x "$galaxy" ]; then
  gzip -dc "$kit/galaxy.gz" > "$galaxy.part" && chmod +x "$galaxy.part" && mv "$galaxy.part" "$galaxy" || { echo "run.sh: cannot unpack $kit/galaxy.gz" >&2; exit 1; }
fi
# 61,578 labelled galaxies as in Kaggle's set: the seed's 80/20 split trains on 49,262 of them.
labelled=${KIT_EPOCH_IMAGES:-61578}
batches=${KIT_BATCHES:-128 512}
bench_runs=${KIT_BENCH_RUNS:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
start=$(date +%s.%N)
now() { date +%s.%N; }
step() { echo "== $*" >&2; }

step "devices"
"$galaxy" devices --verbose > "$out/devices.txt" 2>&1
cat "$out/devices.txt" >&2

step "(a) selftest"
# shellcheck disable=SC2086
"$galaxy" selftest --json --golden "$kit/sdnet_two_sgd_steps.safetensors" ${KIT_SELFTEST_ARGS:-} > "$out/selftest.json" 2> "$out/selftest.log"
selftest_status=$?
echo "selftest exit $selftest_status" >&2

step "(a2) what the GPU's own compiler makes of every pipeline (bench --shader-stats)"
"$galaxy" bench --shader-stats --json > "$out/shader-stats.json" 2> "$out/shader-stats.log" || echo "shader statistics failed (see shader-stats.log)" >&2
"$galaxy" bench --shader-stats > "$out/shader-stats.txt" 2>> "$out/shader-stats.log" && cat "$out/shader-stats.txt" >&2

step "(b) bench"
for b in $batches; do
  "$galaxy" bench train --json --batch "$b" --runs "$bench_runs" > "$out/bench-$b.json" 2> "$out/bench-$b.log" || echo "bench at batch $b failed (see bench-$b.log)" >&2
done

step "(c) one epoch of synthetic galaxies at batch 128"
t0=$(now)
"$galaxy" synth --count "$labelled" --seed 1 --out "$work/data" > "$out/synth.log" 2>&1 || echo "synth failed" >&2
t1=$(now)
"$galaxy" prepare "$work/data" > "$out/prepare.log" 2>&1 || echo "prepare failed" >&2
t2=$(now)
"$galaxy" train --data "$work/data" --run "$work/run" --epochs 1 --batch 128 > "$out/train.log" 2>&1 || echo "train failed (see train.log)" >&2
t3=$(now)
cp "$work/run/metrics.csv" "$out/metrics.csv" 2>/dev/null
echo "{\"synth\": [$t0, $t1], \"prepare\": [$t1, $t2], \"train\": [$t2, $t3]}" > "$out/epoch-times.json"

step "(d) the seed's PyTorch model on CUDA"
if command -v python3 > /dev/null && python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2> /dev/null; then
  for b in $batches; do
    python3 "$kit/torch_peer.py" --device cuda --batch "$b" > "$out/torch-$b.json" 2> "$out/torch-$b.log" || echo "torch at batch $b failed" >&2
  done
else
  echo "no PyTorch with CUDA here: skipped" >&2
fi

python3 "$kit/report.py" "$out" "$start" "$(now)" "$selftest_status" > "$out/report.json" || echo "report.py failed" >&2
cat "$out/report.json"
exit $selftest_status
