#!/usr/bin/env python3
"""Compares the GPU path's shared-memory tiles by what AMD's compiler (ACO, through RADV's null device) makes
of them, without a GPU. For each chip family and each tile variant it runs
    galaxy bench --shader-stats --config gpu --tiles ... --json
and summarises the GEMM-carrying pipelines (the convolutions and linear layers, forward and backward) of a
training step at batch 128:
  vgprs       the most VGPRs of any of them           waves   the fewest waves per SIMD (occupancy)
  spills      spilled registers + scratch bytes, summed over them (must be 0)
  est         ACO's static estimate of the step's GEMM time, relative to 4 x 4 blocks (BASELINE): for each pipeline,
              its inverse throughput (cycles per wave64, loop bodies weighted x8) divided by the multiply-adds
              one pass of its loop body does per invocation (rows x columns x depth) and by 8, times the
              pipeline's multiply-adds in the step; summed
  load        multiply-adds per value loaded from global memory into shared memory, MAC-weighted over the step
              (a tile of BM x BN does BM*BN*BK for (BM+BN)*BK loads)
  lds         shared-memory reads per multiply-add, MAC-weighted ((rows + columns) / (rows x columns))
Usage: bench/gpu_tiles.py [GALAXY] [--families polaris10,aldebaran,navi21,gfx1100] [--wave32] [--markdown]
"""
import argparse, itertools, json, os, subprocess, sys

RADV = "/usr/share/vulkan/icd.d/radeon_icd.x86_64.json"
# The unit of "est" (the tiles before 2026-12-03), and today's defaults (SharedMemoryTiles).
BASELINE = "workgroup=256,rows=4,columns=4,depth=16"
DEFAULT = "workgroup=256,rows=4,columns=8,depth=16"


def stats(galaxy, family, tiles, wave32):
    env = dict(os.environ, RADV_FORCE_FAMILY=family, VK_DRIVER_FILES=RADV, RADV_PERFTEST="cswave32" if wave32 else "")
    env.pop("GALAXY_VALIDATION", None)
    out = subprocess.run([galaxy, "bench", "--shader-stats", "--config", "gpu", "--tiles", tiles, "--json"], env=env,
                         capture_output=True, text=True)
    if out.returncode != 0:
        return None
    return json.loads(out.stdout)


def summary(report):
    gemm = [p for p in report["pipelines"] if p["kernel"].startswith(("conv2d_", "linear_")) and p["train_macs"] > 0]
    macs = sum(p["train_macs"] for p in gemm)
    est = load = lds = 0.0
    for p in gemm:
        spec = p["specialization"]
        nc, mb, tc, bk = spec[12], spec[13], spec[17], spec[18]
        tr = (p["workgroup_size"] + tc - 1) // tc
        bm, bn = tr * mb, tc * nc
        est += p["raw"]["Inverse Throughput"] / (8 * mb * nc * bk) * p["train_macs"]
        load += p["train_macs"] * (bm * bn / (bm + bn))
        lds += p["train_macs"] * ((mb + nc) / (mb * nc))
    return {
        "vgprs": max(p["vgprs"] for p in gemm),
        "waves": min(p["waves_per_simd"] for p in gemm),
        "spills": sum(p["spilled_vgprs"] + p["spilled_sgprs"] + p["scratch_bytes"] for p in gemm),
        "lds_bytes": max(p["lds_bytes"] for p in gemm),
        "est": est, "load": load / macs, "lds": lds / macs,
    }


def per_pipeline(a):
    configs = []
    for family in a.families.split(","):
        configs.append((family, False))
        if family.startswith(("navi", "gfx1")):
            configs.append((family, True))
    reports = {c: stats(a.galaxy, c[0], a.tiles, c[1]) for c in configs}
    first = next(r for r in reports.values() if r)
    names = [p["name"] for p in first["pipelines"]]
    heads = [f"{f}{' w32' if w else ''}" for f, w in configs]
    print(f"Tiles {a.tiles}; cells: VGPRs / waves per SIMD (x: failed to compile). LDS bytes, instructions, latency and "
          f"inverse throughput are {configs[0][0]}'s.\n")
    print("| pipeline | LDS | instrs | latency | inv. thr. | " + " | ".join(heads) + " |")
    print("|---|---:|---:|---:|---:|" + "---:|" * len(heads))
    for name in names:
        base = next(p for p in first["pipelines"] if p["name"] == name)
        cells = []
        for c in configs:
            r = reports[c]
            p = next((p for p in r["pipelines"] if p["name"] == name), None) if r else None
            spill = "" if p is None or p["spilled_vgprs"] + p["spilled_sgprs"] + p["scratch_bytes"] == 0 else " SPILLS"
            cells.append("x" if p is None else f"{p['vgprs']} / {p['waves_per_simd']:g}{spill}")
        raw = base["raw"]
        print(f"| {name} | {base['lds_bytes']} | {base['instructions']} | {raw.get('Latency', 0):.0f} | {raw.get('Inverse Throughput', 0):.0f} | "
              + " | ".join(cells) + " |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("galaxy", nargs="?", default=".build/release/galaxy")
    ap.add_argument("--families", default="polaris10,aldebaran,navi21,gfx1100")
    ap.add_argument("--wave32", action="store_true", help="RDNA families in wave32 (RADV_PERFTEST=cswave32)")
    ap.add_argument("--variants", help="semicolon-separated --tiles values (default: a grid)")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--per-pipeline", action="store_true",
                    help="instead: one markdown table of every pipeline at TILES (default: the defaults), VGPRs / waves per SIMD per "
                         "family, wave64 and (RDNA) wave32")
    ap.add_argument("--tiles", default=DEFAULT)
    a = ap.parse_args()
    if a.per_pipeline:
        return per_pipeline(a)
    if a.variants:
        variants = a.variants.split(";")
    else:
        variants = [f"workgroup={w},rows={r},columns={c},depth={d}" for w, (r, c), d in
                    itertools.product((64, 128, 256), ((2, 2), (2, 4), (4, 4), (4, 8), (8, 4), (8, 8)), (8, 16, 32))]
    for v in (BASELINE, DEFAULT):
        if v not in variants:
            variants.insert(0, v)
    for family in a.families.split(","):
        rows = {}
        for v in variants:
            r = stats(a.galaxy, family, v, a.wave32)
            rows[v] = summary(r) if r else None
        base = rows[BASELINE]["est"]
        title = f"{family}{' wave32' if a.wave32 else ''}"
        if a.markdown:
            print(f"\n{title}\n\n| tiles | VGPRs (max) | waves/SIMD (min) | spills+scratch | LDS bytes | est. GEMM time | MACs/global load | LDS reads/MAC |")
            print("|---|---:|---:|---:|---:|---:|---:|---:|")
        else:
            print(f"\n== {title}")
        for v in sorted(variants, key=lambda v: rows[v]["est"] if rows[v] else 1e30):
            s = rows[v]
            if s is None:
                print(f"| {v} | failed |" if a.markdown else f"{v:45s} failed to compile")
                continue
            cells = [s["vgprs"], s["waves"], s["spills"], s["lds_bytes"], f"{s['est'] / base:.3f}", f"{s['load']:.1f}", f"{s['lds']:.3f}"]
            mark = " (default)" if v == DEFAULT else " (before)" if v == BASELINE else ""
            if a.markdown:
                print(f"| {v}{mark} | " + " | ".join(str(c) for c in cells) + " |")
            else:
                print(f"{v + mark:55s}" + "".join(f"{str(c):>10s}" for c in cells))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
