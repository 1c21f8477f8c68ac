"""Trains a small MLP written with raw ranvier tensor ops (no nn module) on generated data:
three interleaved spirals in 2-D, 3 classes. Prints the loss and accuracy as it goes.

    python examples/train_mlp_raw.py [--epochs 30] [--seed 0]
"""
import argparse
import math
import time

import ranvier as rv


def make_spirals(n_per_class, classes, gen):
    """Points on noisy spiral arms, one arm per class."""
    xs, ys = [], []
    for c in range(classes):
        t = rv.linspace(0.0, 1.0, n_per_class)
        r = t * 1.0
        angle = t * 4.0 + c * (2 * math.pi / classes)
        noise = rv.randn(n_per_class, generator=gen) * 0.2
        xs.append(rv.stack([r * (angle + noise).sin(), r * (angle + noise).cos()], dim=1))
        ys.append(rv.full((n_per_class,), c, dtype=rv.int64))
    return rv.cat(xs), rv.cat(ys)


def init_layer(fan_in, fan_out, gen):
    bound = 1.0 / math.sqrt(fan_in)
    w = (rv.rand(fan_in, fan_out, generator=gen) * 2 - 1) * bound
    b = (rv.rand(fan_out, generator=gen) * 2 - 1) * bound
    return [w.requires_grad_(), b.requires_grad_()]


def forward(params, x):
    h = x
    for i in range(0, len(params), 2):
        h = h @ params[i] + params[i + 1]
        if i + 2 < len(params):
            h = h.relu()
    return h


def cross_entropy(logits, y):
    m = logits.max(dim=1, keepdim=True).values.detach()
    lse = (logits - m).exp().sum(dim=1).log() + m.squeeze(1)
    return (lse - logits.gather(1, y.unsqueeze(1)).squeeze(1)).mean()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    gen = rv.Generator().manual_seed(args.seed)
    x, y = make_spirals(300, 3, gen)
    params = init_layer(2, 64, gen) + init_layer(64, 64, gen) + init_layer(64, 3, gen)
    velocity = [rv.zeros_like(p) for p in params]
    n = x.shape[0]
    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        order = rv.randperm(n, generator=gen)
        total = 0.0
        for i in range(0, n, args.batch):
            idx = order[i:i + args.batch]
            loss = cross_entropy(forward(params, x[idx]), y[idx])
            for p in params:
                p.grad = None
            loss.backward()
            with rv.no_grad():
                for p, v in zip(params, velocity):
                    v.mul_(0.9).add_(p.grad)
                    p.sub_(v * args.lr)
            total += loss.item() * idx.shape[0]
        if epoch % 5 == 0 or epoch == 1:
            with rv.no_grad():
                acc = (forward(params, x).argmax(dim=1) == y).float().mean().item()
            print(f"epoch {epoch:3d}  loss {total / n:.4f}  train accuracy {acc:.3f}")
    print(f"done in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
