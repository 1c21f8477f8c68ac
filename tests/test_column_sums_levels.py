"""Float32 sums over the leading dim (a bias gradient's reduction), whose column walk has an
AVX-512, an AVX2 and a portable copy (kernels/cpu/reduce.cpp, column_sums_*). Each copy is
checked against NumPy's float64 sum, and every capability level the CPU offers, run in a
subprocess under RANVIER_CPU_CAPABILITY, must give the same bits (each column adds its rows in
order in double whatever the vector width). Widths cover one to more than eight groups of eight
columns, a last pass of fewer than four groups, rows past one reduction block, and a column
slice whose row stride is wider than its width."""
import hashlib
import os

import numpy as np

import ranvier
from helpers import from_np, run_at_capability, to_np

HERE = os.path.dirname(os.path.abspath(__file__))

# (rows, columns, columns kept by the slice [:, :kept] or None)
CASES = [(1024, 384, None), (300, 8, None), (77, 24, None), (513, 40, None), (64, 72, None),
         (5, 136, None), (16500, 16, None), (200, 64, 56), (33, 128, 96)]


def column_sums():
    """Each case's float32 sum over dim 0 as a NumPy array, checked against float64 NumPy."""
    rng = np.random.default_rng(3)
    outs = []
    for rows, cols, kept in CASES:
        a = (rng.standard_normal((rows, cols)) * 10 + 3).astype(np.float32)
        x = from_np(a)
        if kept is not None:
            x, a = x[:, :kept], a[:, :kept]
        got = to_np(x.sum(0))
        ref = a.astype(np.float64).sum(0)
        scale = np.abs(a.astype(np.float64)).sum(0)
        np.testing.assert_allclose(got, ref, rtol=0, atol=float(scale.max()) * 2e-7,
                                   err_msg=f"sum(0) of [{rows}, {cols}] kept {kept}")
        outs.append(got)
    return outs


def digest():
    h = hashlib.sha1()
    for threads in (1, 2, 3):
        old = ranvier.get_num_threads()
        ranvier.set_num_threads(threads)
        try:
            for o in column_sums():
                h.update(o.tobytes())
        finally:
            ranvier.set_num_threads(old)
    return h.hexdigest()


def test_column_sums_match_numpy():
    column_sums()


def test_thread_counts_give_the_same_bits():
    runs = []
    for threads in (1, 2, 3):
        old = ranvier.get_num_threads()
        ranvier.set_num_threads(threads)
        try:
            runs.append(column_sums())
        finally:
            ranvier.set_num_threads(old)
    for r in runs[1:]:
        for a, b in zip(runs[0], r):
            np.testing.assert_array_equal(a, b)


def run_level(level):
    code = (f"import sys; sys.path.insert(0, {HERE!r}); import test_column_sums_levels as t; "
            "import ranvier; print(t.digest()); print(ranvier.backends.cpu.get_cpu_capability())")
    lines = run_at_capability(level, code)
    assert lines[-1] == level.upper()
    return lines[-2]


SUPPORTED = ranvier._C._cpu_capability_supported()
LEVELS = {"AVX512": ["avx512", "avx2", "default"], "AVX2": ["avx2", "default"]}.get(
    SUPPORTED, ["default"])


def test_levels_give_the_same_bits():
    digests = {level: run_level(level) for level in LEVELS}
    assert len(set(digests.values())) == 1, digests
