"""Timings of the CPU scaled-dot-product attention kernels (kernels/cpu/attention.cpp) on the
gpt workload's shape ([16, 4, 64, 32] queries, keys and values, causal), forward and forward +
backward, ranvier against PyTorch in one process, medians of repeats.

Usage: python benchmarks/kernels/attention.py [--threads 2] [--reps 50]

Variants measured on the 2-core Zen 4 machine, 2 threads, microseconds (PyTorch in the same
runs: forward 570-740, forward + backward 2,440-2,510):
  - before (2026-11-23 morning): forward 407, forward + backward 884. A profile of the forward
    on one thread: the softmax rows 41% (GCC lowered the 16-lane generic vectors of the row max
    and sum to 256-bit halves kept on the stack, and the row's padding was written by scalar
    stores then read back as a vector), the products 25%; the backward's dout . out dot 5.5%
    (compiled for the baseline ISA), zero-filling gk and gv 3.3%.
  - the row passes as AVX-512 intrinsics with masked tails, the softmax scale applied there
    (no pass over the scores), gk / gv written by the first block instead of zeroed: forward
    219-261, forward + backward 644-756.
  - the forward's probabilities kept for the backward (1 MB a layer here; up to 2^22 of them),
    so the backward has no scores product and no exp: forward + backward 535-596.
  In the gpt step (4 layers) attention went from ~12% of the profile to ~7%.
On the 2-core Zen 3 machine (AVX2), 2 threads (PyTorch forward 670-780, forward + backward
2,220-2,580):
  - the kept probabilities computed in place by the forward and read in place by the
    backward when a block's rows see every key (l = s = 64 here), instead of a copy each way:
    forward + backward 775 -> 689 (forward 360-380 either way).
  - a one-thread profile of the forward (590 us): the 6 x 16 tiles 30%, the softmax rows 27%
    (the exp of ~40 lanes a row at ~20 cycles per 8 lanes, then the fold, the division and
    the log), the tile driver and the 4-row tiles of the 32-row causal parts 13%, K^T's 8 x 8
    transposes 2.6%.
  - the short-sequence kernels (attention_small_avx2.cpp, 2026-11-24): K, V (and Q, dO) packed
    once per head, query rows six at a time with the scores of only the keys the group's last
    row may see, dK and dV six keys at a time over the queries that see them. In one process,
    alternating with the general kernels (medians of five rounds of 60 calls, the gpt layout
    of heads in one [16, 64, 384] projection): two threads forward 330-336 -> 308-311, forward
    + backward 769-784 -> 718-719; one thread 605 -> 571 and 1,396 -> 1,300. This script then:
    forward 306 against PyTorch's 631 (0.48x), forward + backward 665 against 2,176 (0.31x),
    two threads. A one-thread
    profile of its forward: tiles 42% (~87 GFLOP/s on the products), the softmax rows 28% (~125
    cycles a row of ~32 keys), packing 6%. In the gpt step: ~0.1 ms of ~38 (alternating in one
    process). A first try at fetching the next head's rows while a head ran did not change the
    step (GCC can delete a loop of _mm_prefetch alone; whether it did there is not known).
  - fetching the next head's rows, asm prefetches spread over the current head's six-row
    groups (Note [Fetching the next head], 2026-11-24): this script's hot operands pay for the
    prefetches (forward 310-318 -> 332-335 with everything in the caches); operands out of the
    caches, as in a training step (a script cycling 24 qkv blocks, forward only): inputs cold
    411-420 -> 365-380, inputs and outputs cold 445-464 -> 427-436. In the gpt step (per-op
    timing): forward 466-482 -> 413-445, backward 590-598 -> 509-565 a layer; whole steps
    (five alternating pairs of 5 s runs) 39.39-39.65 -> 39.25-39.46 ms medians.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _timing import run_cases  # noqa: E402


def cases(lib):
    F = lib.nn.functional
    rng = np.random.default_rng(0)
    q, k, v, g = (lib.tensor(rng.standard_normal((16, 4, 64, 32)).astype(np.float32))
                  for _ in range(4))
    for t in (q, k, v):
        t.requires_grad_(True)

    def forward():  # with grad recording, as in training (the probabilities are kept)
        F.scaled_dot_product_attention(q, k, v, is_causal=True)

    def forward_backward():
        q.grad = k.grad = v.grad = None
        F.scaled_dot_product_attention(q, k, v, is_causal=True).backward(g)

    return {"causal fwd": forward, "causal fwd+bwd": forward_backward}


def main(argv=None):
    return run_cases(__doc__, cases, argv, threads=2, reps=50, warmup=5)


if __name__ == "__main__":
    sys.exit(main())
