"""The PyTorch peer of `galaxy catalog` for bench/catalog.sh: every JPEG of a folder (recursive, sorted by path
byte by byte, as galaxy) decoded by torchvision in a DataLoader's worker processes, center-cropped to 207 and
resized to 69 (bilinear, antialiased), normalized, through the seed's SanderDielemanNet (bench/torch_peer.py) in
eval mode without autograd, written as galaxy's CSV (id = file stem, then the 37 answers with six decimals).

Usage: python bench/torch_catalog.py --checkpoint W.safetensors --images DIR --out OUT.csv [--workers N]
       python bench/torch_catalog.py --images DIR --decode-only     (one process, one thread: images per CPU-second)
The weights are read from the safetensors file by the seed's state_dict names (no safetensors package needed).
"""
import argparse
import json
import os
import sys
import time

import torch
import torchvision
from torchvision.io import ImageReadMode, decode_image, read_file
from torchvision.transforms.v2 import functional as TF

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_peer import SeedNet  # noqa: E402

MEAN = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)


def image_paths(folder):
    paths = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        paths += [os.path.relpath(os.path.join(root, f), folder) for f in files
                  if not f.startswith(".") and f.lower().endswith((".jpg", ".jpeg", ".png"))]
    return [os.path.join(folder, p) for p in sorted(paths, key=lambda p: p.encode())]


class Images(torch.utils.data.Dataset):
    def __init__(self, paths):
        self.paths = paths

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        x = decode_image(read_file(self.paths[i]), mode=ImageReadMode.RGB)
        x = TF.resize(TF.center_crop(x, [207, 207]), [69, 69], antialias=True)
        return (x.float() / 255 - MEAN) / STD


def load_safetensors(path, names):
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name in names:
        h = header[name]
        assert h["dtype"] == "F32", f"{name}: {h['dtype']}"
        lo, hi = h["data_offsets"]
        out[name] = torch.frombuffer(bytearray(data[lo:hi]), dtype=torch.float32).reshape(h["shape"])
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--checkpoint")
    parser.add_argument("--images", required=True)
    parser.add_argument("--out")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--decode-only", action="store_true")
    args = parser.parse_args()
    paths = image_paths(args.images)
    data = Images(paths)
    if args.decode_only:
        torch.set_num_threads(1)
        data[0]
        wall, cpu = time.perf_counter(), time.process_time()
        for i in range(len(data)):
            data[i]
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(json.dumps({"peer": f"torchvision {torchvision.__version__} decode_image + center_crop + resize(antialias)",
                          "images": len(data), "images_per_second": len(data) / wall, "images_per_cpu_second": len(data) / cpu}))
        return
    model = SeedNet()
    model.load_state_dict(load_safetensors(args.checkpoint, model.state_dict().keys()))
    model.eval()
    loader = torch.utils.data.DataLoader(data, batch_size=args.batch, num_workers=args.workers, shuffle=False)
    rows = []
    with torch.inference_mode():
        for x in loader:
            rows += model(x).tolist()
    with open(args.out, "w") as f:
        f.write("id," + ",".join(f"output{i + 1}" for i in range(len(rows[0]))) + "\n")
        for path, row in zip(paths, rows):
            stem = os.path.splitext(os.path.basename(path))[0]
            f.write(stem + "," + ",".join(f"{v:.6f}" for v in row) + "\n")


if __name__ == "__main__":
    main()
