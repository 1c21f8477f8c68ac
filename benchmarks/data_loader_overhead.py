"""DataLoader overhead on the MNIST-1D CNN: one epoch of training fed by
DataLoader(TensorDataset, shuffle=True) against the same epoch fed by slicing pre-made tensors
with a random permutation. The target: the DataLoader epoch is at most 10% slower.

    python benchmarks/data_loader_overhead.py [--batch-size 32] [--epochs 3] [--workers 0]
"""
import argparse
import tempfile
import time

import ranvier
import ranvier.nn as nn
import ranvier.nn.functional as F
from ranvier.data import DataLoader, TensorDataset
from ranvier.data.datasets import MNIST1D


def make_net():
    return nn.Sequential(nn.Conv1d(1, 25, 5, 2, 1), nn.ReLU(), nn.Conv1d(25, 25, 3, 2, 1),
                         nn.ReLU(), nn.Conv1d(25, 25, 3, 2, 1), nn.ReLU(), nn.Flatten(),
                         nn.Linear(125, 10))


def step(net, x, y, lr=0.05):
    loss = F.cross_entropy(net(x), y)
    for p in net.parameters():
        p.grad = None
    loss.backward()
    with ranvier.no_grad():
        for p in net.parameters():
            p.sub_(p.grad * lr)


def epoch_tensors(net, x, y, bs):
    perm = ranvier.randperm(x.shape[0])
    for i in range(0, x.shape[0], bs):
        j = perm[i:i + bs]
        step(net, x[j], y[j])


def epoch_loader(net, loader):
    for xb, yb in loader:
        step(net, xb, yb)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--workers", type=int, default=0)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as root:
        ds = MNIST1D(root)
    x, y = ds.data.unsqueeze(1).contiguous(), ds.targets
    loader = DataLoader(TensorDataset(x, y), batch_size=a.batch_size, shuffle=True,
                        num_workers=a.workers)
    ranvier.manual_seed(0)
    net = make_net()
    epoch_tensors(net, x, y, a.batch_size)  # warm-up
    epoch_loader(net, loader)
    times = {"tensors": [], "loader": []}
    for _ in range(a.epochs):  # interleaved so that machine noise hits both alike
        t = time.perf_counter()
        epoch_tensors(net, x, y, a.batch_size)
        times["tensors"].append(time.perf_counter() - t)
        t = time.perf_counter()
        epoch_loader(net, loader)
        times["loader"].append(time.perf_counter() - t)
    bt, bl = min(times["tensors"]), min(times["loader"])
    print(f"epoch over pre-made tensors: {bt:.3f} s; through DataLoader: {bl:.3f} s; "
          f"ratio {bl / bt:.3f} (target <= 1.10)")


if __name__ == "__main__":
    main()
