"""Timings of the CPU's float32 elementwise math, softmax, row sums and layout copies against
PyTorch, in one process, medians of repeats (microseconds per call; ratio = ranvier time /
PyTorch time, lower is better).

Usage: python benchmarks/kernels/elementwise_math.py [--threads 1] [--reps 50]

The kernels: kernels/cpu/vec_math.h (exp, expm1, log, log1p, tanh, sigmoid, erf: branch-free,
so the unary loop vectorises; libm's results at inf, NaN, 0, overflow and subnormals),
kernels/cpu/softmax_float.cpp, the row sums of kernels/cpu/reduce.cpp, the tiled transpose of
kernels/cpu/copy.cpp. Before / after on the 2-core Zen 4 machine, one thread, 2,000,000
elements (512 x 1024 for softmax and sums), ms, PyTorch in the same runs:
  exp 7.1-7.7 -> 0.8-0.9 (PyTorch 1.6-2.3); log 7.2 -> 1.2 (3.0); tanh 32 -> 1.3-1.5 (5.1-6.8);
  sigmoid 7.2 -> 1.0-1.2 (0.8-1.1); silu 7.6 -> 1.2 (0.8-1.1); softplus 42-52 -> 3.7-3.9
  (3.0-3.8: the lambda with its two parameters was not inlined, a call per element, until it
  was marked always_inline); erf 24 -> 1.3 (3.4-3.5); sqrt 2.8 -> 0.4 (0.9-1.1: libm's errno
  had kept it scalar); rsqrt 4.8 -> 0.6 (0.6)
  leaky_relu 1.8-1.9 (where(x > 0, x, x * slope): three passes) -> 0.2 (one unary pass; 0.4-0.5).
    As a unary op it first ran one element at a time with a branch (9 ms): the loop read the
    functor's captured slope through a reference its stores might alias; unary_rows copies
    the functor now
  softmax over the last dim 4.8-7.2 -> 0.41-0.44 (0.30-0.35), log_softmax 2.5-3.7 -> 0.43-0.46
  (0.29-0.34), softmax over dim 0 6.1-7.6 -> 0.42 (0.65-0.71). The max written over 16 scalar
  lanes stayed scalar (GCC's vector type does it), the double lane sums sat on the stack
    (vector-typed accumulators: 0.44 -> 0.41)
  sum over the last dim 0.114 -> 0.056 (0.030; a chain of four scalar double lanes ran one
    element a cycle; 32 lanes now, bounded by reading the 2 MB from L3)
  512 x 1024 .t().contiguous() 1.4-1.7 -> 0.38-0.45 (0.47-0.57): a plain 32 x 32 tiled loop
    gained nothing (1.6), its 32 input rows 4 KB apart share one L1 set; through a buffer each
    input row and output row is read or written whole
  [16, 64, 4, 32].permute(0, 2, 1, 3).contiguous() (4,096 rows of 32 floats) 50-68 us -> 30-32
    (PyTorch 17-26): the generic row walk cost ~170 instructions a row (callgrind), typed
    pointers and inline 16-byte moves ~100; a [1024, 384] column slice 20-27 -> 14 (17)
  gelu (exact) of 1024 x 512, one thread (tried 2026-11-23, not kept): its fused loop as
    AVX-512 intrinsics with erf's 1 / (1 + p|x|) from the reciprocal estimate and a Newton step
    instead of vdivps: 291-323 us either way (PyTorch 244), 128 x 512: 38 us either way. The
    loop is ~40 vector operations per 16 floats, not bound by the division or by memory.
  gelu (exact) on the Zen 3 machine (AVX2), 1024 x 512, one thread (kernels/cpu/gelu_avx2.cpp,
    kept): GCC's x86-64-v3 loop kept half its constants on the stack and made the clamps
    compare-and-blend pairs; as intrinsics (Phi from the lower tail, no 1 + erf) forward
    523-533 -> 491 us, forward + backward 1,197-1,213 -> 1,092. The same per 8 floats (~7 ns)
    from 16 K to 512 K elements, so compute-bound; interleaving two vectors per iteration and
    the reciprocal estimate with a Newton step instead of vdivps changed nothing (6.9-7.6 ns).
"""
import sys

import numpy as np

from _timing import run_cases


def cases(lib):
    F = lib.nn.functional
    rng = np.random.default_rng(0)
    x = lib.tensor(rng.standard_normal(2_000_000).astype(np.float32))
    xp = lib.tensor(np.abs(rng.standard_normal(2_000_000)).astype(np.float32) + 0.1)
    m = lib.tensor(rng.standard_normal((512, 1024)).astype(np.float32))
    mg = lib.tensor(rng.standard_normal((512, 1024)).astype(np.float32), requires_grad=True)
    g = lib.tensor(rng.standard_normal((512, 1024)).astype(np.float32))
    heads = lib.tensor(rng.standard_normal((16, 64, 4, 32)).astype(np.float32))

    def softmax_fb():
        F.softmax(mg, 1).backward(g)

    return {
        "exp": lambda: x.exp(), "expm1": lambda: x.expm1(), "log": lambda: xp.log(),
        "log1p": lambda: xp.log1p(), "tanh": lambda: x.tanh(), "sigmoid": lambda: x.sigmoid(),
        "silu": lambda: F.silu(x), "softplus": lambda: F.softplus(x), "erf": lambda: x.erf(),
        "sqrt": lambda: xp.sqrt(), "rsqrt": lambda: xp.rsqrt(),
        "leaky_relu": lambda: F.leaky_relu(x, 0.2),
        "softmax dim -1": lambda: m.softmax(1), "log_softmax dim -1": lambda: F.log_softmax(m, 1),
        "softmax dim 0": lambda: m.softmax(0), "softmax fwd+bwd": softmax_fb,
        "sum dim -1": lambda: m.sum(1), "mean dim -1": lambda: m.mean(1),
        "transpose contiguous": lambda: m.t().contiguous(),
        "heads permute contiguous": lambda: heads.permute(0, 2, 1, 3).contiguous(),
    }


def main(argv=None):
    return run_cases(__doc__, cases, argv, threads=1, reps=50, warmup=5, width=26)


if __name__ == "__main__":
    sys.exit(main())
