"""Timings of the CPU's sort / topk, flip and embedding (index gather and index_add) against
PyTorch, in one process, medians of repeats (microseconds per call; ratio = ranvier time /
PyTorch time, lower is better).

Usage: python benchmarks/kernels/sort_index.py [--threads 1] [--reps 20]

The kernels: kernels/cpu/sort.cpp (a total order on (key, index), so any algorithm gives the
stable sort's result: an LSD radix sort of keys of 32 bits or fewer, heap selection for small
k, selection + sort for larger k), flip in ops/misc_shape.cpp (one copy out of a
reversed-stride view), index_put / index_gather in kernels/cpu/indexing.cpp. Before / after on
the 2-core Zen 4 machine, one thread, ms, PyTorch in the same runs:
  512 x 1024 float sort along the rows 26.7-30.8 -> 7.1-7.3 (25.4-26.5): std::stable_sort with
    a NaN-aware comparison, ~55 us a row in mispredicted branches; std::sort with the
    comparison inlined (lambdas, not function pointers) did not help (27.8)
  topk(5) 26.4 (a full sort per row) -> 1.7-1.8 (0.9-1.2); with nth_element + sort 4.9, with
    the radix sort 5.9: small k stays on the heap selection
  topk(200) 33.0 -> 6.1-6.5 (8.4-8.9); float64 sort (comparison path) 28.7 (29.4)
  flip(1) 0.735 (an index_select per flipped dim) -> 0.28 (one copy, negative inner stride
    walked element by element) -> 0.13 (reversed rows vectorised) (0.05)
  embedding of 4096 indices into 512 x 256: forward 0.29 -> 0.12 (rows copied by memcpy: the
    file is built for baseline x86-64, so the copy loop ran 16 bytes at a time) (0.10);
    forward + backward 3.9 -> 1.6 (index_add walked every element through the generic strided
    walker, one at a time: a plain row loop now, split among threads by columns)
"""
import sys

import numpy as np

from _timing import run_cases


def cases(lib):
    F = lib.nn.functional
    rng = np.random.default_rng(0)
    m = lib.tensor(rng.standard_normal((512, 1024)).astype(np.float32))
    md = lib.tensor(rng.standard_normal((512, 1024)))
    idx = lib.tensor(rng.integers(0, 512, 4096))
    weight = lib.tensor(rng.standard_normal((512, 256)).astype(np.float32), requires_grad=True)
    g = lib.tensor(rng.standard_normal((4096, 256)).astype(np.float32))

    def embedding_fb():
        F.embedding(idx, weight).backward(g)
        weight.grad = None

    return {
        "sort float32": lambda: m.sort(1), "sort float64": lambda: md.sort(1),
        "argsort dim 0": lambda: m.argsort(0), "topk 5": lambda: m.topk(5, 1),
        "topk 200": lambda: m.topk(200, 1), "flip dim 1": lambda: m.flip(1),
        "flip dim 0": lambda: m.flip(0),
        "embedding fwd": lambda: F.embedding(idx, weight.detach()),
        "embedding fwd+bwd": embedding_fb,
    }


def main(argv=None):
    return run_cases(__doc__, cases, argv, threads=1, reps=20, warmup=3)


if __name__ == "__main__":
    sys.exit(main())
