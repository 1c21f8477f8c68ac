"""Per-part timings of the cnn workload (BENCHMARKS.md): each conv / pool / relu / linear
forward and backward of one training step, timed alone, ranvier and (if installed) PyTorch.

    python benchmarks/kernels/cnn_parts.py [--threads 2] [--reps 30]
"""
import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import workloads  # noqa: E402


CLOCK = time.perf_counter
MIN = False


def timeit(fn, reps):
    for _ in range(3):
        fn()
    ts = []
    for _ in range(reps):
        t0 = CLOCK()
        fn()
        ts.append(CLOCK() - t0)
    return (min(ts) if MIN else statistics.median(ts)) * 1e3


def parts(lib, reps):
    F = lib.nn.functional
    lib.manual_seed(0)
    x = lib.randn(64, 1, 28, 28)
    w1 = lib.randn(32, 1, 3, 3, requires_grad=True)
    b1 = lib.randn(32, requires_grad=True)
    a1 = lib.randn(64, 32, 28, 28)
    p1 = lib.randn(64, 32, 14, 14, requires_grad=True)
    w2 = lib.randn(64, 32, 3, 3, requires_grad=True)
    b2 = lib.randn(64, requires_grad=True)
    a2 = lib.randn(64, 64, 14, 14)
    g1 = lib.randn(64, 32, 28, 28)
    g2 = lib.randn(64, 64, 14, 14)
    out = {}
    out["conv1 fwd"] = timeit(lambda: F.conv2d(x, w1.detach(), b1.detach(), padding=1), reps)

    def c1b():
        y = F.conv2d(x, w1, b1, padding=1)
        y.backward(g1)
    out["conv1 fwd+bwd"] = timeit(c1b, reps)
    out["conv2 fwd"] = timeit(lambda: F.conv2d(p1.detach(), w2.detach(), b2.detach(),
                                               padding=1), reps)

    def c2b():
        y = F.conv2d(p1, w2, b2, padding=1)
        y.backward(g2)
    out["conv2 fwd+bwd"] = timeit(c2b, reps)
    out["relu1"] = timeit(lambda: F.relu(a1), reps)
    out["pool1 fwd"] = timeit(lambda: F.max_pool2d(a1, 2), reps)
    a1g = a1.clone().requires_grad_()
    gp1 = lib.randn(64, 32, 14, 14)
    out["pool1 fwd+bwd"] = timeit(lambda: F.max_pool2d(a1g, 2).backward(gp1), reps)
    out["pool2 fwd"] = timeit(lambda: F.max_pool2d(a2, 2), reps)
    step, _ = workloads.cnn(lib)
    out["cnn step"] = timeit(step, reps)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--cpu-time", action="store_true",
                    help="process CPU time instead of wall time (steadier on a loaded machine "
                         "with --threads 1)")
    ap.add_argument("--min", action="store_true", help="best time instead of the median")
    a = ap.parse_args()
    global CLOCK, MIN
    MIN = a.min
    if a.cpu_time:
        CLOCK = time.process_time
    import ranvier
    libs = {"ranvier": ranvier}
    if not a.no_torch:
        try:
            import torch
            libs["torch"] = torch
        except ImportError:
            pass
    res = {}
    for name, lib in libs.items():
        lib.set_num_threads(a.threads)
        res[name] = parts(lib, a.reps)
    keys = list(res["ranvier"])
    print(f"{'part':16s} " + " ".join(f"{n:>10s}" for n in res) + f"   (ms, {'best' if a.min else 'median'})")
    for k in keys:
        print(f"{k:16s} " + " ".join(f"{res[n][k]:10.3f}" for n in res))


if __name__ == "__main__":
    main()
