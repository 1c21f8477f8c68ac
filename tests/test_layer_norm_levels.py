"""layer_norm's float32 row kernels (kernels/cpu/norm.cpp, and on AVX2 CPUs the intrinsics of
kernels/cpu/norm_avx2.cpp, which run four rows side by side forward and two backward) against
float64 NumPy: the output and all three gradients for widths with every tail length of the
8-float vector, each weight / bias combination, row counts that leave groups of 1-3 rows, rows
with a large mean (the two-pass variance keeps its digits), constant rows, NaN and inf; and the
same bits for 1, 2 and 3 threads, whose row splits fall inside the groups. The subprocess tests
run the same checks under RANVIER_CPU_CAPABILITY=avx2 and =default, so the portable loops are
covered on an AVX2 machine."""

import numpy as np
import pytest

import ranvier
import ranvier.nn.functional as F
from helpers import from_np, run_checks_at_capability, to_np

EPS = 1e-5


def _ref(x, w, b, g):
    """y, dx, dw, db in float64."""
    x = x.astype(np.float64)
    k = x.shape[1]
    mu = x.mean(1, keepdims=True)
    inv = 1 / np.sqrt(((x - mu) ** 2).sum(1, keepdims=True) / k + EPS)
    xh = (x - mu) * inv
    y = xh * (1.0 if w is None else w) + (0.0 if b is None else b)
    dxh = g * (1.0 if w is None else w)
    dx = inv * (dxh - dxh.mean(1, keepdims=True) - xh * (dxh * xh).mean(1, keepdims=True))
    return y, dx, (g * xh).sum(0), g.sum(0)


def _run(x, w, b, g, threads=None):
    old = ranvier.get_num_threads()
    if threads:
        ranvier.set_num_threads(threads)
    try:
        a = from_np(x, requires_grad=True)
        ww = None if w is None else from_np(w, requires_grad=True)
        bb = None if b is None else from_np(b, requires_grad=True)
        y = F.layer_norm(a, (x.shape[1],), ww, bb)
        y.backward(from_np(g))
        return [to_np(y), to_np(a.grad), None if w is None else to_np(ww.grad),
                None if b is None else to_np(bb.grad)]
    finally:
        ranvier.set_num_threads(old)


def _inputs(rows, k, seed, mean=1.0, scale=3.0):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((rows, k)) * scale + mean).astype(np.float32)
    w = rng.standard_normal(k).astype(np.float32)
    b = rng.standard_normal(k).astype(np.float32)
    g = rng.standard_normal((rows, k)).astype(np.float32)
    return x, w, b, g


def check_values():
    for k in list(range(1, 18)) + [31, 40, 128, 133]:  # every tail length of a vector
        for rows, (has_w, has_b) in zip((1, 2, 3, 5, 7), ((1, 1), (1, 0), (0, 1), (0, 0), (1, 1))):
            x, w, b, g = _inputs(rows, k, k * 10 + rows)
            w = w if has_w else None
            b = b if has_b else None
            got = _run(x, w, b, g)
            want = _ref(x, w, b, g)
            np.testing.assert_allclose(got[0], want[0], rtol=1e-5, atol=2e-5, err_msg=str(k))
            np.testing.assert_allclose(got[1], want[1], rtol=1e-4, atol=1e-4, err_msg=str(k))
            if has_w:
                np.testing.assert_allclose(got[2], want[2], rtol=1e-4, atol=1e-4)
            if has_b:
                np.testing.assert_allclose(got[3], want[3], rtol=1e-5, atol=1e-4)


def check_large_mean_and_special_rows():
    # a mean 10^4 times the spread: (x - mean)^2 summed in double after the mean keeps the
    # variance's digits, where E[x^2] - mean^2 in float32 would lose them all
    x, w, b, g = _inputs(6, 45, 7, mean=2e4, scale=2.0)
    got, want = _run(x, w, b, g), _ref(x, w, b, g)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-3, atol=2e-3)
    x, w, b, g = _inputs(6, 45, 8)
    x[1] = 0.25                # constant: x - mean = 0 exactly, so y = b
    x[2, 44] = np.inf          # the tail's last lane
    x[3, 5] = np.nan
    x[4, 40] = -np.inf
    y, dx, _, _ = _run(x, w, b, g)
    np.testing.assert_array_equal(y[1], b)
    for r in (2, 3, 4):
        assert np.isnan(y[r]).all() and np.isnan(dx[r]).all(), r
    for r in (0, 1, 5):  # the others as NumPy's, the NaN rows beside them leaving them be
        want = _ref(x[r:r + 1], w, b, g[r:r + 1])
        np.testing.assert_allclose(y[r:r + 1], want[0], rtol=1e-5, atol=2e-5)
        np.testing.assert_allclose(dx[r:r + 1], want[1], rtol=1e-4, atol=1e-4)


def check_threads():
    # with the grain of 32,768 elements these split into 2 or 3 chunks whose edges fall inside
    # the forward's four-row groups (2045 rows of 37: 1,023 a chunk on two threads, 682 on
    # three; 9,001 rows of 8: 4,501 and 3,001) and the backward's two-row ones (odd chunks)
    for k, rows in ((37, 2045), (8, 9001)):
        x, w, b, g = _inputs(rows, k, k)
        runs = [_run(x, w, b, g, threads=t) for t in (1, 2, 3)]
        for other in runs[1:]:
            for u, v in zip(runs[0], other):
                np.testing.assert_array_equal(u.view(np.uint32), v.view(np.uint32))


def run_checks():
    check_values()
    check_large_mean_and_special_rows()
    check_threads()
    print(ranvier.backends.cpu.get_cpu_capability())


def test_values_every_tail_and_affine_combination():
    check_values()


def test_large_mean_and_special_rows():
    check_large_mean_and_special_rows()


def test_same_bits_for_1_2_3_threads():
    check_threads()


SUPPORTED = ranvier._C._cpu_capability_supported()


@pytest.mark.skipif(SUPPORTED == "DEFAULT", reason="the CPU has no AVX2")
@pytest.mark.parametrize("level", ["avx2", "default"])
def test_capability_levels_in_subprocesses(level):
    run_checks_at_capability(level, "test_layer_norm_levels")
