#!/bin/bash
# Usage: bench/catalog.sh [ROUNDS]   (from the repository root, after `swift build -c release` and `make bench-peer`)
# `galaxy catalog` end to end on 2,000 synthetic 424x424 JPEGs (galaxy synth --seed 1), at full size and with
# --decode half, beside the seed's PyTorch model doing the same on this machine's CPU (bench/torch_catalog.py:
# torchvision decoding in a DataLoader with one worker per core, no autograd, the same CSV), all with the seed's
# weights as PyTorch initializes them (the golden file). Each round runs the three in a rotating order (whichever
# runs first on a shared machine tends to win); the figures are whole-process wall times, start to CSV written,
# medians over the rounds. Then the decode + crop + resize rate alone, per core: `galaxy bench prepare` and the
# peer's dataset in one process on one thread. BENCH_DIR keeps the synthetic images between runs.
set -euo pipefail
rounds=${1:-3}
galaxy=${GALAXY:-.build/release/galaxy}
python=.venv-torch/bin/python
[ -x "$python" ] || { echo "bench/catalog.sh: run 'make bench-peer' first (PyTorch in .venv-torch)" >&2; exit 1; }
checkpoint=../shared/data/torch-golden/sdnet_two_sgd_steps.safetensors
dir=${BENCH_DIR:-$(mktemp -d)}
[ -d "$dir/data/images_training_rev1" ] || "$galaxy" synth --count 2000 --seed 1 --out "$dir/data" >/dev/null
images=$dir/data/images_training_rev1
n=$(ls "$images" | wc -l)

run() {  # run NAME: one timed run, its seconds appended to $dir/NAME.times
  local start end
  start=$(date +%s.%N)
  case $1 in
    full|half) "$galaxy" catalog --checkpoint "$checkpoint" --images "$images" --out "$dir/$1.csv" --overwrite --decode "$1" 2>"$dir/$1.log" >/dev/null ;;
    torch) "$python" bench/torch_catalog.py --checkpoint "$checkpoint" --images "$images" --out "$dir/torch.csv" ;;
  esac
  end=$(date +%s.%N)
  awk -v a="$start" -v b="$end" 'BEGIN { print b - a }' >> "$dir/$1.times"
}

echo "== $n images in $images; $rounds rounds; $(nproc) cores"
# A first run of each (not timed): llvmpipe compiles the pipelines once per machine, the page cache fills.
for v in full half torch; do run "$v"; done
rm -f "$dir"/*.times
orders=("full half torch" "half torch full" "torch full half")
for round in $(seq 1 "$rounds"); do
  for v in ${orders[$(((round - 1) % 3))]}; do run "$v"; done
done
grep -h "waiting for decoded images" "$dir/full.log" "$dir/half.log" | sed 's/^/last runs: /'
python3 - "$dir" "$n" <<'PY'
import statistics, sys
d, n = sys.argv[1], int(sys.argv[2])
t = {v: [float(x) for x in open(f"{d}/{v}.times")] for v in ("full", "half", "torch")}
med = {v: statistics.median(x) for v, x in t.items()}
for v, label in (("full", "galaxy catalog"), ("half", "galaxy catalog --decode half"), ("torch", "PyTorch peer")):
    print(f"{label:30} {n / med[v]:7.1f} images/s  (median {med[v]:6.1f} s of {', '.join(f'{x:.1f}' for x in t[v])})")
print(f"galaxy / PyTorch: {med['torch'] / med['full']:.2f} (full), {med['torch'] / med['half']:.2f} (--decode half); "
      f"--decode half / full: {med['full'] / med['half']:.2f}")
def rows(p):
    return [l.split(",") for l in open(p).read().splitlines()[1:]]
a, b, h = rows(f"{d}/full.csv"), rows(f"{d}/torch.csv"), rows(f"{d}/half.csv")
assert [r[0] for r in a] == [r[0] for r in b] == [r[0] for r in h], "the rows' IDs or order differ"
diff = max(abs(float(x) - float(y)) for r, s in zip(a, b) for x, y in zip(r[1:], s[1:]))
print(f"same answers: galaxy against PyTorch, max abs difference {diff:.6f} over {len(a)} rows")
PY
echo "== decode + crop + resize alone"
"$galaxy" bench prepare --images "$images" --repeats 1
"$python" bench/torch_catalog.py --images "$images" --decode-only
