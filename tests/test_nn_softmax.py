"""softmax / log_softmax / softmin (functional, ranvier.*, Tensor methods, modules) against
NumPy, with float64 gradchecks and double backward."""
import numpy as np
import pytest
from hypothesis import given, settings

import ranvier
import ranvier.nn as nn
import ranvier.nn.functional as F
from helpers import assert_close, from_np, gradcheck, gradgradcheck, noncontiguous, rand_np, shapes


def np_softmax(x, dim):
    m = np.max(x, axis=dim, keepdims=True)
    e = np.exp(x - m)
    return e / e.sum(axis=dim, keepdims=True)


def np_log_softmax(x, dim):
    m = np.max(x, axis=dim, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=dim, keepdims=True))


@settings(max_examples=25, deadline=None)
@given(shapes(1, 4, 0, 5))
def test_forward_random_shapes(device, shape):
    x = rand_np(shape, np.float64, low=-5, high=5)
    t = from_np(x, device)
    for dim in range(-len(shape), len(shape)):
        if x.size == 0:
            assert tuple(F.softmax(t, dim).shape) == shape
            assert tuple(F.log_softmax(t, dim).shape) == shape
            continue
        assert_close(F.softmax(t, dim), np_softmax(x, dim), rtol=1e-12, atol=1e-12)
        assert_close(F.log_softmax(t, dim), np_log_softmax(x, dim), rtol=1e-12, atol=1e-12)
        assert_close(F.softmin(t, dim), np_softmax(-x, dim), rtol=1e-12, atol=1e-12)


def test_entry_points_and_float32():
    x = rand_np((3, 4, 5), np.float32)
    t = from_np(x)
    ref = np_softmax(x.astype(np.float64), 1).astype(np.float32)
    for out in (ranvier.softmax(t, 1), t.softmax(1), t.softmax(dim=1), nn.Softmax(dim=1)(t)):
        assert_close(out, ref, rtol=1e-5, atol=1e-6)
    lref = np_log_softmax(x.astype(np.float64), -1).astype(np.float32)
    for out in (ranvier.log_softmax(t, -1), t.log_softmax(-1), nn.LogSoftmax(-1)(t)):
        assert_close(out, lref, rtol=1e-5, atol=1e-5)
    assert_close(nn.Softmin(0)(t), np_softmax(-x.astype(np.float64), 0).astype(np.float32),
                 rtol=1e-5, atol=1e-6)
    assert_close(nn.Softmax2d()(t), np_softmax(x.astype(np.float64), 0).astype(np.float32),
                 rtol=1e-5, atol=1e-6)


def test_stable_for_large_values_and_0d():
    x = np.array([[1000.0, 1001.0, 999.0], [-1000.0, -1000.0, -1000.0]])
    assert_close(F.softmax(from_np(x), 1), np_softmax(x, 1), rtol=1e-12)
    assert_close(F.log_softmax(from_np(x), 1), np_log_softmax(x, 1), rtol=1e-12)
    assert_close(F.softmax(from_np(np.array(3.0)), 0), np.array(1.0))
    assert_close(F.log_softmax(from_np(np.array(3.0)), 0), np.array(0.0))


def test_dtype_argument_and_reduced_precision():
    x = rand_np((2, 6), np.float32)
    out = F.softmax(from_np(x), 1, dtype=ranvier.float64)
    assert out.dtype == ranvier.float64
    assert_close(out, np_softmax(x.astype(np.float64), 1), rtol=1e-12)
    xi = ranvier.tensor([[1, 2, 3]])
    assert_close(F.softmax(xi, 1, dtype=ranvier.float64), np_softmax(np.array([[1., 2, 3]]), 1))
    h = from_np(x).half()
    assert h.softmax(1).dtype == ranvier.float16
    assert_close(h.softmax(1).float(), np_softmax(x, 1).astype(np.float32), rtol=2e-3, atol=2e-3)


def test_noncontiguous_and_zero_size():
    x = rand_np((4, 5), np.float64)
    assert_close(F.softmax(noncontiguous(from_np(x)), 1), np_softmax(x, 1))
    assert_close(F.log_softmax(from_np(x).t(), 0), np_log_softmax(x.T, 0))
    assert tuple(F.softmax(ranvier.zeros(0, 3), 1).shape) == (0, 3)
    assert tuple(F.log_softmax(ranvier.zeros(2, 0), 1).shape) == (2, 0)


def test_implicit_dim_warns():
    with pytest.warns(UserWarning, match="Implicit dimension"):
        out = F.softmax(from_np(rand_np((2, 3), np.float64)))
    assert tuple(out.shape) == (2, 3)


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_gradcheck(dim):
    x = rand_np((3, 4, 2), np.float64)
    assert gradcheck(lambda t: F.softmax(t, dim), x)
    assert gradcheck(lambda t: F.log_softmax(t, dim), x)
    assert gradcheck(lambda t: F.softmin(t, dim), x)


def test_backward_matches_formula_and_double_backward():
    x = rand_np((3, 5), np.float64)
    g = rand_np((3, 5), np.float64, rng=np.random.default_rng(1))
    t = from_np(x, requires_grad=True)
    F.softmax(t, 1).backward(from_np(g))
    y = np_softmax(x, 1)
    assert_close(t.grad, y * (g - (g * y).sum(1, keepdims=True)), rtol=1e-10, atol=1e-12)
    t = from_np(x, requires_grad=True)
    F.log_softmax(t, 1).backward(from_np(g))
    assert_close(t.grad, g - np.exp(np_log_softmax(x, 1)) * g.sum(1, keepdims=True),
                 rtol=1e-10, atol=1e-12)
    assert gradgradcheck(lambda t: F.softmax(t, 1), x)
    assert gradgradcheck(lambda t: F.log_softmax(t, 0), x)


def test_errors():
    with pytest.raises(IndexError, match="softmax"):
        F.softmax(ranvier.zeros(2, 3), 2)
    with pytest.raises(TypeError, match="softmax.*floating"):
        F.softmax(ranvier.tensor([1, 2]), 0)
    with pytest.raises(ValueError, match="Softmax2d"):
        nn.Softmax2d()(ranvier.zeros(2, 3))
