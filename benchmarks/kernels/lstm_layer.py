"""Timings of the fused LSTM layer at the lstm workload's shapes (T=64, B=32, H=256): forward
alone and forward + backward of _C._rnn_layer, and the whole lstm train step, as minima over
repeats (the minimum is the stable figure on a shared machine). RV_RNN_SPLIT=rows / units
forces the thread split of the time loop (kernels/cpu/rnn.cpp, split_work).

Usage: python benchmarks/kernels/lstm_layer.py [--threads 2] [--reps 30]

Variants measured on the 2-core Zen 4 machine (AVX-512), minima, while other jobs shared it
(two-thread figures are the best of several runs; single-core ones pinned with taskset):

  packed GEMM alone (_C._rnn_packed_gemm, packing of B included), one core, GFLOP/s
    shape M x K x N          AVX-512 8x32   AVX2 6x16   portable   (double, x86-64-v4 clone)
    32 x 256 x 1024              83.5          71.0       30.5         41.2
    32 x 1024 x 256              87.2          78.1       32.4
    32 x 256 x 512               88.3          76.4       32.3

  layer forward (recurrent GEMM 1.07 GFLOP + gate pass)
    before (OpenBLAS per step and per block of 16 rows, W_hh repacked every call)
      1 core 19.2 ms (56 GFLOP/s); 2 threads 15.7 ms (68)
    packed W_hh, split by row blocks (kept)
      1 core 11.9 ms (90 GFLOP/s); 2 threads 6.0 ms (179)
    packed W_hh, split by hidden units (kept for B < 16 * threads), barrier per step
      1 core 12.0 ms (89 GFLOP/s); 2 threads 6.6 ms (164); under load much worse than rows,
      since a descheduled thread stalls the barrier of all 64 steps

  layer backward (recurrent GEMM + dW_hh, 2.14 GFLOP), 2 threads
    before 14.7 ms; packed (kept) 13.9 ms
    dW_hh as 8 single-threaded OpenBLAS GEMMs of 128 rows spread over the threads instead of
      one threaded GEMM: 14.2 ms vs 13.9 ms, no gain, dropped
    db_hh summed while the gate gradients are made instead of a pass over dgates after the
      loop: the separate pass was 3.7% of the single-core layer profile (kept)

  LSTM module, one core (taskset), forward / forward + backward
    before 33.7 / 67.6 ms; after 18.6 / 56.3 ms
    b_ih + b_hh added once inside the layer (LSTM / RNN, not GRU): removes the addmm bias
      reduction over the (2048, 1024) projection gradient, 2.5-3.8% of the one-core step

  benchmarks/run.py --only lstm (ranvier / torch tokens/s), GLIBC_TUNABLES as in the brief
    one core (taskset -c 1, --threads 1): before 25,600 / 33,700 = 0.76x;
      after 27,800 / 31,300 = 0.89x and 28,300 / 30,700 = 0.92x
    2 threads, back to back at load average ~4 (other builds): before 8,600 / 7,750 = 1.11x
      and 8,900 / 8,900 = 1.00x; after 10,500 / 5,100 = 2.04x and 15,900 / 6,900 = 2.30x
      (torch's threaded kernels suffer more from the load; quiet-machine figures will differ)
    where the one-core time still goes (LSTM module forward + backward, perf): OpenBLAS
      41.5% for the 2.69 GFLOP of input projection, its two gradients and dW_hh; the packed
      kernel 25.8% for the 2.14 GFLOP of the recurrent GEMMs; gate passes 6.7%

  pack_panel reading W_hh column by column for the transposed forward packing: no change
    (1.5% of the layer either way), dropped

  the embedding projection (Note [Embedding projection]; the last line of the output: the
  lstm step with it and without, alternating in one process, 10th percentiles, 2 threads)
    the projection as its own op (distinct rows' products gathered to [T, B, 1024], sums by
      index_add): 34.3 -> 27.5 ms
    index_put without its copy of a dense, non-overlapping source: 29.9 -> 22.2 ms (both
      sides gain)
    the layer reading the distinct products by token index (no gather): 30.1 -> 21.3 ms
    the per-token sums formed in the back-through-time loop: 30.6 -> 21.4 ms
    a batch-first output written by the layer itself: 30.5 -> 21.1 ms
"""
import argparse

import ranvier
from ranvier import _C

from _timing import call_seconds


def best(fn, reps):
    return min(call_seconds(fn, reps, warmup=1)) * 1e3


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
    on, off = embedding_ab(step, max(5, args.reps // 2))
    print("lstm step, embedding projection on / off (alternating, 10th percentiles) "
          "%.2f / %.2f ms = %.2fx" % (on, off, off / on))


def embedding_ab(step, rounds):
    """The lstm step with the embedding projection (Note [Embedding projection]) and without it
    (the two entry points made to decline), alternating by rounds of 5 steps; 10th percentiles
    in ms."""
    entry = {name: getattr(_C, name) for name in ("_rnn_layer_embedded", "_embedding_projection")}
    times = {True: [], False: []}
    try:
        for _ in range(rounds):
            for on in (True, False):
                for name, fn in entry.items():
                    setattr(_C, name, fn if on else (lambda *a, **k: None))
                times[on] += call_seconds(step, 5, warmup=2)
    finally:
        for name, fn in entry.items():
            setattr(_C, name, fn)
    return tuple(sorted(times[on])[len(times[on]) // 10] * 1e3 for on in (True, False))


if __name__ == "__main__":
    main()
