"""Float32 products of 1-4 rows against a transposed (row-major) weight, the shape of
nn.Linear at batch 1-4, which runs on its own kernel (kernels/cpu/gemv.cpp): against NumPy
in float64, with every tail of k and n, alpha/beta of addmm, and any thread count."""
import numpy as np
import pytest

import ranvier
from ranvier.nn import functional as F


def _ref(a, w, bias=None, alpha=1.0, beta=1.0):
    out = alpha * (a.astype(np.float64) @ w.astype(np.float64).T)
    if bias is not None:
        out = out + beta * bias.astype(np.float64)
    return out


@pytest.mark.parametrize("m", [1, 2, 3, 4])
@pytest.mark.parametrize("k", [16, 17, 31, 32, 100, 784])
@pytest.mark.parametrize("n", [1, 3, 4, 5, 16, 17, 70])
def test_linear_few_rows_matches_numpy(m, k, n):
    rng = np.random.default_rng(m * 1000 + k * 10 + n)
    a = rng.standard_normal((m, k)).astype(np.float32)
    w = rng.standard_normal((n, k)).astype(np.float32)
    b = rng.standard_normal(n).astype(np.float32)
    out = F.linear(ranvier.from_numpy(a), ranvier.from_numpy(w), ranvier.from_numpy(b))
    np.testing.assert_allclose(out.numpy(), _ref(a, w, b), rtol=1e-5, atol=2e-5 * np.sqrt(k))
    out = ranvier.from_numpy(a) @ ranvier.from_numpy(w).t()
    np.testing.assert_allclose(out.numpy(), _ref(a, w), rtol=1e-5, atol=2e-5 * np.sqrt(k))


def test_addmm_alpha_beta_and_strided_rows():
    rng = np.random.default_rng(1)
    big = rng.standard_normal((6, 50)).astype(np.float32)
    a = ranvier.from_numpy(big)[::2, 3:43]  # rows 2 apart, columns contiguous
    w = rng.standard_normal((9, 40)).astype(np.float32)
    c = rng.standard_normal((3, 9)).astype(np.float32)
    out = ranvier.addmm(ranvier.from_numpy(c), a, ranvier.from_numpy(w).t(), beta=0.5,
                        alpha=-2.0)
    ref = 0.5 * c.astype(np.float64) - 2.0 * (big[::2, 3:43].astype(np.float64) @ w.T)
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-5, atol=1e-4)
    out = ranvier.addmm(ranvier.from_numpy(c), a, ranvier.from_numpy(w).t(), beta=0, alpha=1)
    c_nan = np.full_like(c, np.nan)  # beta = 0 ignores C's contents, even NaN
    out2 = ranvier.addmm(ranvier.from_numpy(c_nan), a, ranvier.from_numpy(w).t(), beta=0)
    np.testing.assert_array_equal(out.numpy(), out2.numpy())
    assert not np.isnan(out2.numpy()).any()


def test_same_bits_for_any_thread_count():
    rng = np.random.default_rng(2)
    a = ranvier.from_numpy(rng.standard_normal((2, 784)).astype(np.float32))
    w = ranvier.from_numpy(rng.standard_normal((512, 784)).astype(np.float32))
    old = ranvier.get_num_threads()
    try:
        outs = []
        for t in (1, 2, 3):
            ranvier.set_num_threads(t)
            outs.append((a @ w.t()).numpy())
    finally:
        ranvier.set_num_threads(old)
    np.testing.assert_array_equal(outs[0], outs[1])
    np.testing.assert_array_equal(outs[0], outs[2])


def test_gradients_through_the_few_row_path():
    rng = np.random.default_rng(3)
    a = ranvier.from_numpy(rng.standard_normal((2, 20)).astype(np.float32)).requires_grad_()
    w = ranvier.from_numpy(rng.standard_normal((7, 20)).astype(np.float32)).requires_grad_()
    b = ranvier.from_numpy(rng.standard_normal(7).astype(np.float32)).requires_grad_()
    g = rng.standard_normal((2, 7)).astype(np.float32)
    F.linear(a, w, b).backward(ranvier.from_numpy(g))
    np.testing.assert_allclose(a.grad.numpy(), g @ w.detach().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(w.grad.numpy(), g.T @ a.detach().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(b.grad.numpy(), g.sum(0), rtol=1e-5, atol=1e-5)
