"""Timings of the float32 GEMMs of the training workloads: ranvier's panel GEMM
(kernels/cpu/gemm_panels.cpp, Note [Panel GEMM]), the same products through OpenBLAS
(_C._set_gemm_panels(False)) and PyTorch (MKL), in one process, medians of repeats, GFLOP/s.
Each Linear layer gives three products: the forward x @ W^T + b (F.linear), the input
gradient dY @ W and the weight gradient dY^T @ X (A a transposed view).

Usage: python benchmarks/kernels/gemm_panels.py [--threads 2] [--reps 30] [--workload gpt]

Variants measured on the 2-core Zen 4 machine (AVX-512), 2 threads, GFLOP/s (OpenBLAS ->
panels; PyTorch in the same runs 150-200):
  gpt shapes (1024 rows; Linear 128->384, 128->128, 128->512, 512->128, 128->96):
    forward 172-189 -> 200-213, dX 178-200 -> 185-219, dW 93-184 -> 182-204 (OpenBLAS ran
    the dW of 96 and 128 outputs on one thread: 93 -> 187)
  mlp shapes (128 rows; Linear 784->512, 512->256): forward 158-192 -> 181-213, dX 173-195 ->
    204-211
  square products: 256 185-192 -> 221-224, 512 201-206 -> 210-224, 1024 200-204 -> 197-199
    (items taken one at a time; 182-213 before), 2048 201-213 -> 150-213 (neither is taken:
    past 2 MB of A the path leaves the product to OpenBLAS)
  Blocked for large A (tried, not kept): B packed once for all panels and every 64-256 rows
    of A packed per K block into 8-row micro-panels run against each panel: one thread 1024^3
    77-94 and 2048^3 69-83 against OpenBLAS's 91-101 in the same runs (K blocks 64-256)
  Narrow last panels (2026-11-23): a last panel of at most 16 columns ran the full 8 x 32
    tile. One thread, 512 x 256 @ 256 x n, us: n = 16 75 -> 37-39 (8 x 16 zmm tiles), n = 40
    95 (the 8-column tail on 8 x 8 ymm tiles: 22 us against 37 for zmm), n = 48 146 -> 109-113.
    The Winograd products of the cnn's 14 x 14 maps have 98 columns: conv2 forward on one
    thread 3.6-3.8 -> 3.2-3.3 ms. (A first version kept its accumulators in an array indexed by
    the row count at the store and GCC spilled them every k step: 101 us for n = 16.)
  Dropped on the way: packing a transposed weight with a scalar loop (the mlp forward, 128 rows
    against 784 x 512: 0.99x of OpenBLAS; 16 x 16 register transposes: 1.13x); memcpy per
    panel row for a row-major B (the gpt step's 2.5% in memmove; two masked 16-float moves,
    then no copy at all when the panel's 32 columns are there).

Variants measured on the 2-core AMD Zen 3 machine (AVX2 + FMA, no AVX-512; 2026-11-23), the
6 x 16 AVX2 tiles. One core's FMA peak is 102 GFLOP/s there (two 8-float FMAs a cycle at
3.2 GHz; `bench_fma_peak` in benchmarks/native); OpenBLAS and PyTorch (MKL) both reach ~90 on
square products (88%), 180-189 on two threads, so no GEMM of ours can beat them by much on this
CPU. A stand-alone copy of the 6 x 16 tile's loop (a small test program, not in the
repository) ran 97-99 GFLOP/s with its operands in L1 (K = 64-256) and 85-87 with K = 1024 (a
half panel of 64 KB, past the L1); docs/performance.md (2026-11-24) has the rest:
  one thread, GFLOP/s: forward and dX 90-93; dW (A transposed) 70-77 read in place, 73 -> 82
    once A is regrouped into six-row k-major blocks per call (the grouping loop a 24-byte
    copy per k and group; a scalar gather first gave 72-81)
  dW over K >= 512 rows goes to OpenBLAS on AVX2 (2026-11-24, kBlasTransAK): two threads,
    gpt's dW (K = 1024) 142-162 on the regrouped tiles against 150-175 in OpenBLAS, and in a
    sweep of K 128-1024 OpenBLAS led from K = 512 (1.00-1.12x), not below (0.92-1.07x); gpt
    step 42.1-42.4 -> 41.4-42.1 ms. The OpenBLAS column of this script is its fixed-block
    split (Note [Thread-invariant BLAS]), which is what a product left to OpenBLAS runs.
  lstm shapes (2048 rows; Linear 128->1024, 256->96), 2 threads, OpenBLAS / panels /
    PyTorch: forward 175 / 167 / 181, dX 182 / 182 / 176, dW 173 / 173 / 151 (the input
    projection's A is past 2 MB, so both columns are OpenBLAS there), 256->96: forward 175 /
    179 / 162, dX 170 / 180 / 174, dW 168 / 153 / 160
  a last group of at most 4 or 2 rows on a 4- or 2-row tile instead of six rows of FMAs: the
    recurrent products (16 or 32 rows a thread) lost 11% of their FMAs; lstm step 28.0 -> 26.1
    ms
  B read in place (as on AVX-512) against packed: rows a power of two apart share L1 sets with
    the two 16-column halves, packed won on those shapes; rows not a multiple of 64 floats
    apart (the Winograd products' 98 columns) read in place: cnn step 8.76-8.79 -> 8.65 ms
  the tile's rows of C prefetched before its K loop (2026-11-24, Note [Prefetching C]): the
    qkv forward (1,024 x 128 @ 128 x 384) into an output block cycled out of the caches 708 ->
    582 us (574-576 into a hot block either way); these timings reuse a hot block, so this
    script does not see it; the gpt forward 14.9 -> 14.2 ms
  items of rows over every panel (2026-11-24, not kept): B packed once by all threads, then
    items of 48 or 132 rows, K blocks (128 on AVX2) outside and panels inside, so a thread
    reads only its rows of A: a stand-alone copy of the tile loops ran 93 -> 95.5 GFLOP/s a
    core in that order (K = 128), here the gpt products stayed at 170-176 on two threads
  a half panel of at most 8 columns on an 8-wide tile (6, 4 or 2 rows) instead of 16 columns of
    FMAs: the Winograd products of 2 x 49 tiles end in a 2-column panel; conv2 forward (64
    samples, 32 -> 64 channels of 14 x 14) 4157-4182 -> 4092-4144 us on one thread
  a last panel of at most 4 columns with vectors down the rows (A^T from 8 x 8 transposes, 32
    rows in 8 FMA chains) instead of 6 x 8 tiles: the Winograd products' 2-column tail was 15%
    of their time; conv2 forward on one thread 3.86 -> 3.69 ms, cnn step (2 threads, the two
    alternating in one process, medians of 12 rounds) 9.03 -> 8.85 ms. One row group of 8 at
    a time (two FMA chains, latency-bound) saved nothing.
  the last eight rows as two 4-row tiles instead of 6 + 2 (the 2-row tile's four FMA chains
    run at half rate, latency-bound): cnn step 8.76 -> 8.71 ms, lstm 28.6 -> 28.3 ms (in-process
    alternation, medians of 8-10 rounds)
  the regrouping of a transposed A with one 8-float load and store per k and group (the next
    k's store overwrites the extra two floats; a part's last k moves six) instead of a 24-byte
    memcpy: dW of gpt's Linear layers, 2 threads, us, 128->384 741 -> 724, 128->128 265 ->
    258, 128->512 991 -> 960, 512->128 888 -> 888 (the two alternating in one process); the
    regrouping had been 9% of the 128->384 dW
  Dropped: products with a transposed A sent to fixed-block OpenBLAS (results then moved with
    the thread count, since callers choose threaded or not by thread count)
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _timing import call_seconds, libraries  # noqa: E402

LAYERS = {"gpt": (1024, [(128, 384), (128, 128), (128, 512), (512, 128), (128, 96)]),
          "mlp": (128, [(784, 512), (512, 256), (256, 10)]),
          "lstm": (2048, [(128, 1024), (256, 96)])}


def products(lib, rows, fan_in, fan_out, rng):
    """The three products of one Linear layer as zero-argument callables."""
    x = lib.tensor(rng.standard_normal((rows, fan_in)).astype(np.float32))
    w = lib.tensor(rng.standard_normal((fan_out, fan_in)).astype(np.float32))
    b = lib.tensor(rng.standard_normal(fan_out).astype(np.float32))
    dy = lib.tensor(rng.standard_normal((rows, fan_out)).astype(np.float32))
    F = lib.nn.functional
    return {"forward": lambda: F.linear(x, w, b), "dX": lambda: dy @ w,
            "dW": lambda: dy.t() @ x}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--workload", choices=sorted(LAYERS), default="gpt")
    args = ap.parse_args()
    libs = libraries(args.threads)
    from ranvier import _C
    rows, layers = LAYERS[args.workload]
    print("%-18s %9s %9s %9s   GFLOP/s, medians of %d" % ("product", "OpenBLAS", "panels",
                                                         "PyTorch", args.reps))
    for fan_in, fan_out in layers:
        made = {name: products(lib, rows, fan_in, fan_out, np.random.default_rng(0))
                for name, lib in libs.items()}
        flops = 2.0 * rows * fan_in * fan_out
        for kind in ("forward", "dX", "dW"):
            rates = {}
            for label, on in (("OpenBLAS", False), ("panels", True)):
                _C._set_gemm_panels(on)
                ts = sorted(call_seconds(made["ranvier"][kind], args.reps))
                rates[label] = flops / ts[len(ts) // 2] / 1e9
            _C._set_gemm_panels(True)
            if "torch" in made:
                ts = sorted(call_seconds(made["torch"][kind], args.reps))
                rates["PyTorch"] = flops / ts[len(ts) // 2] / 1e9
            print("%-18s %9.1f %9.1f %9s" % ("%s %dx%d" % (kind, fan_in, fan_out),
                                             rates["OpenBLAS"], rates["panels"],
                                             "%.1f" % rates["PyTorch"] if "PyTorch" in rates
                                             else "-"))


if __name__ == "__main__":
    main()
