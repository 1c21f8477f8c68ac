"""Linear and addmm with a bias row: the GEMM reads a 1-D bias in place as C's initial rows
(GemmSpec::c_row), and F.linear without autograd reads the weight transposed in place. Checked
against NumPy in float64, against the autograd path (which still builds the transposed view),
for every kernel the product can reach (few-row kernel, OpenBLAS, integer rows), strided
operands, k = 0, and the errors of bad biases."""
import numpy as np
import pytest

import ranvier
from ranvier.nn import functional as F


def _ref(a, w, bias):
    return a.astype(np.float64) @ w.astype(np.float64).T + bias.astype(np.float64)


@pytest.mark.parametrize("m", [1, 3, 4, 5, 64])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_no_grad_linear_matches_numpy_and_the_autograd_path(m, dtype):
    rng = np.random.default_rng(m)
    a = rng.standard_normal((m, 37)).astype(dtype)
    w = rng.standard_normal((21, 37)).astype(dtype)
    b = rng.standard_normal(21).astype(dtype)
    with ranvier.no_grad():
        out = F.linear(ranvier.from_numpy(a), ranvier.from_numpy(w), ranvier.from_numpy(b))
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(out.numpy(), _ref(a, w, b), rtol=tol, atol=tol * 10)
    assert out.dtype == ranvier.from_numpy(a).dtype and tuple(out.shape) == (m, 21)
    wg = ranvier.from_numpy(w).requires_grad_()
    graded = F.linear(ranvier.from_numpy(a), wg, ranvier.from_numpy(b))
    assert graded.requires_grad
    np.testing.assert_array_equal(out.numpy(), graded.detach().numpy())


@pytest.mark.parametrize("m", [2, 40])
def test_strided_bias_and_transposed_weight(m):
    rng = np.random.default_rng(7)
    a = rng.standard_normal((m, 33)).astype(np.float32)
    wt = rng.standard_normal((33, 19)).astype(np.float32)  # weight given as a transposed view
    bias_big = rng.standard_normal(38).astype(np.float32)
    w = ranvier.from_numpy(wt).t()
    b = ranvier.from_numpy(bias_big)[::2]  # stride 2
    assert not w.is_contiguous() and b.stride() == (2,)
    with ranvier.no_grad():
        out = F.linear(ranvier.from_numpy(a), w, b)
    np.testing.assert_allclose(out.numpy(), _ref(a, wt.T, bias_big[::2]), rtol=1e-5,
                               atol=1e-4)


def test_addmm_with_a_row_input_and_beta():
    rng = np.random.default_rng(8)
    a = rng.standard_normal((6, 10)).astype(np.float32)
    b = rng.standard_normal((10, 5)).astype(np.float32)
    for bias in (rng.standard_normal(5).astype(np.float32),
                 rng.standard_normal((1, 5)).astype(np.float32)):
        out = ranvier.addmm(ranvier.from_numpy(bias), ranvier.from_numpy(a),
                            ranvier.from_numpy(b), beta=0.25, alpha=3.0)
        ref = 0.25 * bias.astype(np.float64) + 3.0 * (a.astype(np.float64) @ b)
        np.testing.assert_allclose(out.numpy(), ref, rtol=1e-5, atol=1e-5)
    bias = ranvier.from_numpy(np.full(5, np.nan, np.float32))  # beta = 0: bias ignored
    out = ranvier.addmm(bias, ranvier.from_numpy(a), ranvier.from_numpy(b), beta=0)
    np.testing.assert_allclose(out.numpy(), a.astype(np.float64) @ b, rtol=1e-5, atol=1e-5)


def test_integer_linear_with_bias_row():
    a = np.arange(12, dtype=np.int64).reshape(3, 4) - 5
    w = np.arange(8, dtype=np.int64).reshape(2, 4) * 3 - 7
    b = np.array([100, -100], dtype=np.int64)
    with ranvier.no_grad():
        out = F.linear(ranvier.from_numpy(a), ranvier.from_numpy(w), ranvier.from_numpy(b))
    np.testing.assert_array_equal(out.numpy(), a @ w.T + b)


@pytest.mark.parametrize("m", [1, 9])
def test_empty_inner_dimension_gives_the_bias(m):
    b = np.array([1.5, -2.0, 3.25], np.float32)
    with ranvier.no_grad():
        out = F.linear(ranvier.zeros(m, 0), ranvier.zeros(3, 0), ranvier.from_numpy(b))
    np.testing.assert_array_equal(out.numpy(), np.tile(b, (m, 1)))


def test_bad_biases_raise_clear_errors():
    x, w = ranvier.randn(2, 4), ranvier.randn(3, 4)
    with ranvier.no_grad():
        with pytest.raises(RuntimeError, match=r"addmm.*\[5\].*\[2, 3\]"):
            F.linear(x, w, ranvier.randn(5))
        with pytest.raises(RuntimeError, match="addmm.*same dtype"):
            F.linear(x, w, ranvier.randn(3, dtype=ranvier.float64))
        with pytest.raises(RuntimeError, match="same dtype"):
            F.linear(x, ranvier.randn(3, 4, dtype=ranvier.float64), ranvier.randn(3))
        # a bias of one element still broadcasts, as in PyTorch
        out = F.linear(x, w, ranvier.tensor([2.0]))
    ref = x.numpy().astype(np.float64) @ w.numpy().astype(np.float64).T + 2.0
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-5, atol=1e-5)
