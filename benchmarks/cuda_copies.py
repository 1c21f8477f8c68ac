"""Microbenchmark of the CUDA copy and elementwise paths a bfloat16 GPT block leans on, ranvier
against PyTorch on the same GPU: microseconds per call (wall time of 50 synchronised calls, so
launch overhead included) for a [8192, 768] bfloat16 tensor: a flat copy (and float32), the
transposing copy that makes a [B, H, T, 64] query view of a fused qkv tensor contiguous, a bias
broadcast, an add, and a cast to float32.

    python benchmarks/cuda_copies.py
"""
import time

import ranvier


def per_call(fn, sync, reps=50):
    for _ in range(5):
        fn()
    sync()
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    sync()
    return (time.perf_counter() - t0) / reps * 1e6


def run(lib):
    sync = lib.cuda.synchronize
    bf = lib.bfloat16
    qkv = lib.randn(8, 1024, 2304, device="cuda").to(bf)
    x = lib.randn(8192, 768, device="cuda").to(bf)
    b = lib.randn(768, device="cuda").to(bf)
    q = qkv[:, :, :768].view(8, 1024, 12, 64).transpose(1, 2)
    xf = x.float()
    return {
        "flat copy bf16": per_call(lambda: x.clone(), sync),
        "flat copy f32": per_call(lambda: xf.clone(), sync),
        "q transpose bf16": per_call(lambda: q.contiguous(), sync),
        "bias broadcast bf16": per_call(lambda: b.expand(8192, 768).contiguous(), sync),
        "add bf16": per_call(lambda: x + x, sync),
        "cast bf16->f32": per_call(lambda: x.float(), sync),
    }


def main():
    libs = [ranvier]
    try:
        import torch
        if torch.cuda.is_available():
            libs.append(torch)
    except ImportError:
        pass
    rows = {lib.__name__: run(lib) for lib in libs}
    names = list(next(iter(rows.values())))
    print("%-22s" % "us per call" + "".join("%12s" % n for n in rows))
    for n in names:
        print("%-22s" % n + "".join("%12.1f" % rows[lib][n] for lib in rows))


if __name__ == "__main__":
    if not ranvier.cuda.is_available():
        raise SystemExit("cuda_copies: no CUDA device")
    main()
