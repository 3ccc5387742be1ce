"""The peer for `make bench`: the seed's SanderDielemanNet and training step in PyTorch, timed on
preloaded random tensors (compute only, no data loading), so its images/s compare with `galaxy bench`.

Usage: python3 bench/torch_peer.py [--device cpu|cuda] [--batch 128] [--runs 5]
Prints one JSON object with train_images_per_second and inference_images_per_second.
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class SeedNet(nn.Module):
    """The seed's network: 4 convolutions, 3 max-pools, 3 dense layers, ReLU everywhere."""

    def __init__(self, outputs=37):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(3, 32, 6), nn.Conv2d(32, 64, 5)
        self.conv3, self.conv4 = nn.Conv2d(64, 128, 3), nn.Conv2d(128, 128, 3)
        self.fc1, self.fc2, self.fc3 = nn.Linear(3200, 128), nn.Linear(128, 64), nn.Linear(64, outputs)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = F.max_pool2d(F.relu(self.conv4(F.relu(self.conv3(x)))), 2)
        x = x.flatten(1)
        return F.relu(self.fc3(F.relu(self.fc2(F.relu(self.fc1(x))))))


def timed(step, runs, sync):
    step()
    sync()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    torch.manual_seed(0)
    model = SeedNet().to(device)
    criterion = nn.MSELoss(reduction="sum")
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x = torch.randn(args.batch, 3, 69, 69, device=device)
    y = torch.rand(args.batch, 37, device=device)

    def train_step():
        optimizer.zero_grad()
        out = model(x)
        loss = criterion(out, y)
        (loss / out.numel()).backward()
        optimizer.step()

    def inference():
        with torch.no_grad():
            model(x)

    train = timed(train_step, args.runs, sync)
    infer = timed(inference, args.runs, sync)
    print(json.dumps({
        "peer": f"PyTorch {torch.__version__} ({device.type}, {torch.get_num_threads()} threads)",
        "batch": args.batch,
        "train_images_per_second": args.batch / train,
        "inference_images_per_second": args.batch / infer,
    }))


if __name__ == "__main__":
    main()
