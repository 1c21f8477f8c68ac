"""Per-part timings of the cnn workload (BENCHMARKS.md): each conv / pool / relu forward and
backward of one training step, timed alone, and the whole step, ranvier and (if installed)
PyTorch.

    python benchmarks/kernels/cnn_parts.py [--threads 2] [--reps 30] [--min] [--cpu-time]

On a shared, loaded 2-core machine the 2-thread wall times swing by 2-10x from run to run;
`--threads 1 --cpu-time` (process CPU time) with `--min` or a low percentile is what held
steady enough to compare kernel variants. All with GLIBC_TUNABLES=glibc.malloc.mmap_threshold=
1073741824:glibc.malloc.trim_threshold=4294967296.

What was tried for the cnn workload (ms; N=64; conv1 = 1 -> 32 channels of 28x28, conv2 =
32 -> 64 channels of 14x14, both 3x3 padding 1; "1T" = one thread, CPU time):

- max_pool2d 2x2 forward: the scalar kernel with three data-dependent branches per window
  (mispredicted on real data) 2.66 ms (2 threads) -> branch-free AVX-512, 16 windows per
  step: 0.2 ms. Kept (kernels/cpu/pool_2x2.*).
- max_pool2d 2x2 backward: choosing among the four taps with comparisons took 12% of a 1T
  step (mispredictions again); clearing each pair of input rows and one store per window:
  2.2%. Kept.
- conv2d backward as one kernel (input, weight, bias gradients in one pass over fixed
  sample chunks; the bias summed per chunk instead of a separate reduction over the output
  gradient): conv1 fwd+bwd 1T 3.3-3.7 -> 1.4-1.6 ms; conv2 20.4 -> 19.9 ms. Kept.
- conv2 by Winograd F(2x2, 3x3) (16 GEMMs per sample chunk of K = 32 or 64 instead of
  im2col + K = 288): fwd / fwd+bwd 1T 6.3 / 19.9 ms (im2col + GEMM) ->
    scalar tile transforms 4.8 / 17.4; transforms over rows of tiles in portable C++ (GCC left
    them scalar at the baseline ISA: transform_input alone 23% of the time) 6.2 / 26 (noisy);
    AVX-512 transforms reading a zero-padded copy of each row (store-forwarding stalls on the
    copy) ~4 / ~23; AVX-512 with masked loads for the padding 3.2 / 11.3. Kept the last.
  Samples per transform + GEMM step, fwd / fwd+bwd 1T: 8 -> 3.8 / 13.6, 4 -> 3.3 / 11.5,
  2 -> 3.2 / 11.1 (tiles stay in L2 although N = 98 GEMMs run at ~70 instead of ~90
  GFLOP/s). Kept 2. Input, weight and bias gradients of the Winograd path in one pass:
  ~11 -> ~10 ms. Kept. Weight-gradient steps of 4 or 8 samples (longer GEMM inner dimension,
  K = 196 / 392) while the input gradient keeps 2: fwd+bwd 1T 10.3-12.5 / 12.5-14.1 vs
  9.9-12.5 ms for 2 - not kept.
- conv1 (one input channel) by a direct AVX-512 kernel instead of im2col + GEMM with K = 9:
  first version (one output channel at a time, column masks recomputed per load) fwd+bwd 1T
  2.9 ms vs 1.7 ms for GEMM - slower; two output channels at a time (20 accumulators in
  registers) and masks per column block: fwd 0.39 vs 0.51-0.74 ms, fwd+bwd 0.9-1.7 vs
  1.2-2.3 ms. Kept.
- 2026-11-23, conv2 fwd / fwd+bwd 1T (ms; medians of the 10th percentile of 60 calls):
  3.6-3.8 / 10.5-11.1 before; the GEMMs' 2-column tail (98 tiles a chunk) on 8 x 8 tiles
  instead of a 32-wide one: 3.2-3.3 / 9.9-10.2; the input transform with two rows of tiles
  per vector (7 tiles a row filled 7 of 16 lanes): 2.8 / 8.6-8.8; the output and gradient
  transforms the same way: 2.7-2.9 / 8.6-9.1 (within the noise). Whole step 1T 17.0 -> 16.0
  ms, 2T 9.05 -> 8.5-8.75 ms. relu's backward writes over the incoming gradient when nothing
  else holds it (Note [Gradient buffer reuse]).
  Tried, not kept: max_pool2d 2x2 backward writing each input element once (tap masks
  interleaved into the two rows, no clearing pass): 785-978 us against 787-978 before for
  32 x 28 x 28 on 1T, both bound by writing the 6.4 MB gradient.
- 2026-11-23, fourth round: each Conv2d -> ReLU -> MaxPool2d(2) stage as one op
  (nn.Sequential, Note [Fused patterns]; the "stage" rows, forward + backward, 2 threads,
  medians of 60 on a busy machine): stage 1 0.85 -> 0.54 ms, stage 2 5.92 -> 4.80 ms.
  Kept. Tried with it: the Winograd items split evenly in advance (parallel_for) against
  handed out one at a time (parallel_items): whole steps in alternating processes 7.18-7.34
  against 6.16-7.50 ms p10, within the noise; kept the second, which cannot lose to a core
  slowed by other work.
- 2026-11-23, Zen 3 (AVX2), whole steps of two threads with the old and new code alternating
  in one process (medians of 12 rounds of 15 steps):
    conv2's input gradient as the forward's transpose (dV = U^T Z from the blocks the weight
    gradient already forms, then the transposed input transform) instead of a flipped
    convolution (which transformed the 64-channel output gradient again and ran a second
    output transform): 8.38 -> 8.07 ms;
    the fused stage's gradient blocks straight from the pooled gradient and codes (no spread
    pass) with the bias from the blocks' 2x2 sums: 8.24 -> 7.97 ms. (A first version summed
    the bias from the pooled values with a branch per window, mispredicted half the time:
    8.81 -> 9.22 ms, slower.)
  Tried, not kept: the forward's products and output transform in blocks of 16 output
    channels (V and one block of M within the 512 KB L2; M of the whole chunk is 400 KB):
    7.90 -> 8.34 ms, slower (V read once per block, 16-row products).
  One-channel conv -> relu -> pool forward, 1T: four output channels at a time (eight FMA
  chains; two chains of nine FMAs waited on the latency) 1065 -> 839 us; eight (spilled)
  1125 us.
- 2026-11-24, Zen 3 (AVX2), the fused stage 1 (one-channel conv -> relu -> pool, 64 x 28 x 28,
  32 channels), one thread, us, 10th percentiles of 200 calls (medians within 2%):
    forward 815 -> 636: 16 columns a step from a copy of the rows with their shifts in L1, one
    channel's nine weights held in registers, the pool's taps picked by shuffles (8 lanes
    where 8 conv columns filled 4); two pooled rows a step (8 FMA chains, weights broadcast
    from memory instead): 614; the pool on integer operations (relu'd floats order as int32):
    600; the rows split into even and odd columns when copied (the taps then fill whole
    vectors with no shuffles or final permute): 537 at p10 but 629 at the median, bimodal:
    the scratch rows from malloc (16-byte aligned) made half the 32-byte loads straddle a cache
    line; 64-byte aligned: 521-529 steady; 8-lane stores of a last block of 6 pooled columns
    (the blocks run last to first, so the 2 extra land on columns written afterwards): 497.
    Tried: the FMAs of the next two pooled rows ahead of the pool of these (software
    pipelining through a stack buffer) 696; all conv rows of a block first, then the pool
    over them, 591 (same as in one pass). The FMAs alone (no pool, no stores) run 372-439,
    so the pool and its stores are what is left.
    backward (weight and bias gradients from the pooled gradient) 836 -> 810 with aligned
    scratch; 16 columns split into even and odd lanes (a window's gradient lands on lane m
    of both halves: four compares and ANDs a pooled row where two spreads of 8 duplicated
    each pooled value with permutes): 767 with both halves' 12 accumulators in one pass (the
    input vectors then FMA operands, 16 loads for 12 FMAs: load-bound), 645 one half at a
    time (3 input vectors in registers, 6 loads for 9 FMAs). Gradient channels per pass 3 or
    6 the same, 9 and 12 1-2% slower (L1).
    Stage 1 forward + backward, two threads: 843 -> 577 us; the cnn step (two threads, old
    and new library alternating, three pairs of 6 s): 7.34-7.41 -> 7.12-7.18 ms.
- Whole step, 1T: 31 ms at the start (torch 42) -> 18-21 ms (torch 34-36).
- benchmarks/run.py --only cnn, before (4992b32) and after, run back to back:
  2 threads, quiet machine (load 0.5-0.8), two pairs: before 2481 images/s vs torch 2017
  (1.23x) and 2874 vs 2755 (1.04x); after 6018 vs 2946 (2.04x) and 6247 vs 3119 (2.00x),
  i.e. 10.2-10.6 ms per step. 1 thread, one other busy process: before
  1553-1622 vs 1548-1588 (1.00-1.02x); after 2973-3089 vs 1511-1544 (1.97-2.00x). With
  other processes busy on both cores the 2-thread figures of both libraries drop 5-15x
  and the ratios scatter (before 0.95-1.6x, after 1.5-3.0x).
"""
import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import workloads  # noqa: E402
from _timing import call_seconds, libraries  # noqa: E402


CLOCK = time.perf_counter
MIN = False


def timeit(fn, reps):
    ts = call_seconds(fn, reps, clock=CLOCK)
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
    # Conv2d -> ReLU -> MaxPool2d(2) stages as the workload runs them (nn.Sequential), forward
    # + backward; ranvier with its fused op and without (Note [Fused patterns]); PyTorch has no
    # switch, so both of its rows time the same thing.
    nn = lib.nn
    s1 = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
    s2 = nn.Sequential(nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
    gs1, gs2 = lib.randn(64, 32, 14, 14), lib.randn(64, 64, 7, 7)
    cpu = getattr(getattr(lib, "backends", None), "cpu", None)
    for fused in (True, False):
        if hasattr(cpu, "fuse_patterns"):
            cpu.fuse_patterns = fused
        tag = "fused" if fused else "unfused"
        out["stage1 " + tag] = timeit(lambda: s1(x).backward(gs1), reps)
        out["stage2 " + tag] = timeit(lambda: s2(p1).backward(gs2), reps)
    if hasattr(cpu, "fuse_patterns"):
        cpu.fuse_patterns = True
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
    res = {name: parts(lib, a.reps)
           for name, lib in libraries(a.threads, with_torch=not a.no_torch).items()}
    keys = list(res["ranvier"])
    stat = "best" if a.min else "median"
    print(f"{'part':16s} " + " ".join(f"{n:>10s}" for n in res) + f"   (ms, {stat})")
    for k in keys:
        print(f"{k:16s} " + " ".join(f"{res[n][k]:10.3f}" for n in res))


if __name__ == "__main__":
    main()
