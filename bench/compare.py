"""Prints galaxy's images/s beside the PyTorch peer's: python3 bench/compare.py GALAXY.json TORCH.json"""
import json
import sys

ours, peer = (json.load(open(p)) for p in sys.argv[1:3])
print(f"{'':12} {'galaxy':>10} {'peer':>10} {'ratio':>7}   ({ours['device']} vs {peer['peer']}, batch {ours['batch']})")
for key, name in (("train_images_per_second", "train"), ("inference_images_per_second", "inference")):
    print(f"{name + ' img/s':12} {ours[key]:10.1f} {peer[key]:10.1f} {ours[key] / peer[key]:7.2f}")
