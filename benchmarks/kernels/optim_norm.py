"""Timings of the fused optimizer steps (SGD with momentum, Adam, AdamW) on the mlp model's
parameters (535,040 floats) and of layer_norm forward / forward + backward at the gpt
workload's shape (1024 x 128, affine), ranvier against PyTorch in the same process, medians
of repeats.

Usage: python benchmarks/kernels/optim_norm.py [--threads 2] [--reps 200]

On the 2-core AMD Zen 3 machine (AVX2 + FMA, no AVX-512; 2026-11-24), medians:

  optimizer steps: the file compiled per SIMD level (kernels/cpu/simd/, Note [Optimizer steps
    per SIMD level]); the AVX2 copy against the baseline one, gpt's 826,208 AdamW parameters:
    two threads 507 -> 305 us, one thread 912 -> 507 us (the baseline's four-float square
    roots and divisions were the bound); the mlp's SGD step alone 87 -> 78-86 us
  layer_norm 1024 x 128 (Note [Layer norm rows on AVX2]): the compiler's loops (one row at a
    time, each sum a chain on the add latency) against intrinsics with four rows side by side
    forward and two backward: one thread forward 80 -> 52 us, forward + backward 224 -> 149;
    two threads 47 -> 30 and 130 -> 84 (PyTorch 59 and 168). Widening by 256-bit loads and
    lane extraction instead of converting 128-bit loads: forward 57, forward + backward 170.
    Two or eight rows forward, one or four backward: 3-7% slower.

Variants measured on the 2-core Zen 4 machine (AVX-512), medians, 2 threads unless noted:

  optimizer steps (kernels/cpu/simd/optim.cpp), mlp parameters
    before: one loop per kind with the options (maximize, weight decay, momentum, a fresh
      buffer, Nesterov; Adam: amsgrad, decoupled decay) tested per element: SGD 17
      instructions per element (callgrind), scalar; Adam 40, scalar (its sqrt kept errno, and
      its hyper-parameters were read through a reference the stores might alias)
      SGD 450-500 us (1 thread 500), Adam ~1,000 us, AdamW ~1,000 us
    after (kept): the loop compiled per combination of options (with_flags), Adam's constants
      copied into the loop's closure, -fno-math-errno for optim.cpp: SGD 3.3 instructions per
      element, 100-120 us (1 thread 150-165); Adam 245-285 us; AdamW 255-265 us. Same bits
      as before (csrc/cuda/test/optim_math_test.cu compares the CPU kernel with the
      per-element reference, every option).

  layer_norm (kernels/cpu/norm.cpp), 1024 x 128 float32 with weight and bias
    before: each row's mean and variance summed serially in double (a chain of dependent adds),
      the elementwise passes in double: forward 156 us, forward + backward 473 us
    eight interleaved double partial sums per row, elementwise passes still in double:
      forward 82 us, forward + backward 304 us
    elementwise passes in float32 with the row statistics rounded to float32 (kept): forward
      50-57 us, forward + backward 220-250 us
    the backward's weight / no-weight cases compiled apart (kept; its sums now vectorise):
      callgrind, per element, one thread (baseline x86-64 code, which valgrind runs): input
      gradient pass 13 instructions, forward 8.4, weight and bias gradients 6.6
    the float row functions (forward rows, input-gradient rows, parameter-gradient column
      blocks) in AVX-512 / AVX2 / baseline copies chosen at load time (kept): forward 33-45 us
      against PyTorch's 42-66 (0.57-1.06x), forward + backward 100-130 us against 115-126
      (0.84-1.13x); before this step 40-66 / 114-220 us
"""
import argparse
import statistics
import sys

from _timing import call_seconds, libraries, print_time_table


def median_us(fn, reps):
    return statistics.median(call_seconds(fn, reps, warmup=10)) * 1e6


def mlp_params(lib):
    lib.manual_seed(0)
    nn = lib.nn
    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(),
                          nn.Linear(256, 10))
    for p in model.parameters():
        p.grad = lib.randn(*p.shape)
    return list(model.parameters())


def optimizer_cases(lib):
    params = mlp_params(lib)
    return {
        "sgd momentum": lib.optim.SGD(params, lr=0.01, momentum=0.9),
        "adam": lib.optim.Adam(params, lr=1e-3),
        "adamw": lib.optim.AdamW(params, lr=1e-3, weight_decay=0.01),
    }


def layer_norm_cases(lib):
    F = lib.nn.functional
    lib.manual_seed(0)
    x = lib.randn(1024, 128, requires_grad=True)
    w = lib.randn(128, requires_grad=True)
    b = lib.randn(128, requires_grad=True)
    g = lib.randn(1024, 128)

    def forward():
        with lib.no_grad():
            F.layer_norm(x, (128,), w, b)

    def both():
        F.layer_norm(x, (128,), w, b).backward(g)

    return {"layer_norm fwd": forward, "layer_norm fwd+bwd": both}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=200)
    args = ap.parse_args(argv)
    libs = libraries(args.threads)
    rows = {}
    for name, lib in libs.items():
        for case, opt in optimizer_cases(lib).items():
            rows.setdefault(case, {})[name] = median_us(opt.step, args.reps)
        for case, fn in layer_norm_cases(lib).items():
            rows.setdefault(case, {})[name] = median_us(fn, args.reps)
    print_time_table(rows, args.threads, width=22)
    return 0


if __name__ == "__main__":
    sys.exit(main())
