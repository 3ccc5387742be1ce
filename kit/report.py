"""Combines the parts of the GPU kit's run (run.sh) into one JSON object on stdout.

Usage: python3 report.py OUT_DIR START_TIME END_TIME SELFTEST_STATUS
"""
import csv
import glob
import json
import os
import sys


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def main():
    out, start, end, status = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
    report = {"kit_seconds": round(end - start, 1), "selftest_status": status, "selftest": load(f"{out}/selftest.json")}
    try:
        with open(f"{out}/devices.txt") as f:
            report["devices"] = f.read().splitlines()
    except OSError:
        report["devices"] = None

    report["shader_stats"] = load(f"{out}/shader-stats.json")
    report["bench"], report["torch_cuda"] = {}, {}
    for path in sorted(glob.glob(f"{out}/bench-*.json")):
        bench = load(path)
        if bench is not None:
            report["bench"][str(bench.get("batch"))] = bench
    for path in sorted(glob.glob(f"{out}/torch-*.json")):
        peer = load(path)
        if peer is not None:
            report["torch_cuda"][str(peer.get("batch"))] = peer
    # galaxy's images/s over PyTorch's on the same GPU, per batch size.
    report["ratio_to_torch_cuda"] = {
        b: {key: report["bench"][b][key] / peer[key]
            for key in ("train_images_per_second", "inference_images_per_second")
            if report["bench"][b].get(key) and peer.get(key)}
        for b, peer in report["torch_cuda"].items() if b in report["bench"]
    }

    epoch = {}
    times = load(f"{out}/epoch-times.json") or {}
    for part, (t0, t1) in times.items():
        epoch[f"{part}_process_seconds"] = round(t1 - t0, 2)
    if os.path.exists(f"{out}/metrics.csv"):
        with open(f"{out}/metrics.csv") as f:
            rows = list(csv.DictReader(f))
        if rows:
            epoch["metrics"] = rows[0]
    report["epoch"] = epoch
    print(json.dumps(report, indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
