"""Timings of the fused LSTM layer at the lstm workload's shapes (T=64, B=32, H=256): forward
alone and forward + backward of _C._rnn_layer, and the whole lstm train step, as minima over
repeats (the minimum is stable on a shared machine). Run with --threads 2.

Usage: python benchmarks/kernels/lstm_layer.py [--threads 2] [--reps 30]
"""
import argparse
import time

import ranvier
from ranvier import _C


def best(fn, reps):
    fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return min(ts) * 1e3


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=30)
    args = ap.parse_args()
    ranvier.set_num_threads(args.threads)
    ranvier.manual_seed(0)
    T, B, H = 64, 32, 256
    xp = ranvier.randn(T, B, 4 * H) * 0.1
    h0 = ranvier.zeros(B, H)
    c0 = ranvier.zeros(B, H)
    w = (ranvier.randn(4 * H, H) * 0.05).requires_grad_()
    b = ranvier.zeros(4 * H).requires_grad_()
    xq = xp.clone().requires_grad_()

    def fwd():
        with ranvier.no_grad():
            _C._rnn_layer("LSTM", xp, h0, c0, w, b, False, None, "LSTM")

    def fwd_bwd():
        y, hn, cn = _C._rnn_layer("LSTM", xq, h0, c0, w, b, False, None, "LSTM")
        y.sum().backward()

    gflop = 2 * T * B * 4 * H * H / 1e9
    f = best(fwd, args.reps)
    fb = best(fwd_bwd, args.reps)
    print("layer forward          %7.2f ms  (recurrent GEMM %.0f GFLOP/s if it were all)"
          % (f, gflop / f * 1e3))
    print("layer forward+backward %7.2f ms" % fb)
    import sys, os
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
    import workloads
    step, _ = workloads.lstm(ranvier)
    print("lstm train step        %7.2f ms" % best(step, max(5, args.reps // 3)))


if __name__ == "__main__":
    main()
