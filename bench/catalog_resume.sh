#!/bin/bash
# Usage: bench/catalog_resume.sh   (from the repository root, after `swift build -c release`)
# The check of `galaxy catalog`'s resumption at scale: 2,000 synthetic JPEGs catalogued in one go, then again in a
# run killed with SIGKILL twice along the way (at a third and at two thirds of the images) and resumed by the same
# command each time, then by 2 ranks under mpirun: each output is compared with the first byte for byte (cmp).
# BENCH_DIR keeps the synthetic images between runs.
set -euo pipefail
galaxy=${GALAXY:-.build/release/galaxy}
checkpoint=../shared/data/torch-golden/sdnet_two_sgd_steps.safetensors
dir=${BENCH_DIR:-$(mktemp -d)}
[ -d "$dir/data/images_training_rev1" ] || "$galaxy" synth --count 2000 --seed 1 --out "$dir/data" >/dev/null
images=$dir/data/images_training_rev1
n=$(ls "$images" | wc -l)
args=(catalog --checkpoint "$checkpoint" --images "$images" --chunk 128)
done_images() {  # images done in OUT.parts: the first field of each part's last whole progress line, summed
  local f s=0
  for f in "$1".parts/*.progress; do [ -f "$f" ] && s=$((s + $(awk 'NF == 4 { n = $1 } END { print n + 0 }' "$f"))); done
  echo $s
}

rm -f "$dir"/straight.csv* "$dir"/killed.csv* "$dir"/ranks.csv*
"$galaxy" "${args[@]}" --out "$dir/straight.csv" >/dev/null 2>>"$dir/resume.log"
for at in $((n / 3)) $((2 * n / 3)); do
  "$galaxy" "${args[@]}" --out "$dir/killed.csv" >/dev/null 2>>"$dir/resume.log" &
  pid=$!  # galaxy's own PID (a shell function run in the background would be a subshell's)
  while [ "$(done_images "$dir/killed.csv")" -lt "$at" ] && kill -0 $pid 2>/dev/null; do sleep 0.2; done
  kill -9 $pid; wait $pid 2>/dev/null || true
  echo "killed with SIGKILL after $(done_images "$dir/killed.csv") of $n images"
done
"$galaxy" "${args[@]}" --out "$dir/killed.csv" 2>>"$dir/resume.log"
cmp "$dir/straight.csv" "$dir/killed.csv" && echo "killed twice and resumed: byte-identical to the uninterrupted run"
OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 \
  mpirun -np 2 "$galaxy" "${args[@]}" --out "$dir/ranks.csv" 2>>"$dir/resume.log"
cmp "$dir/straight.csv" "$dir/ranks.csv" && echo "2 ranks: byte-identical to 1"
