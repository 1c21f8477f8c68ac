"""The vectorised float32 softmax / log_softmax kernels (kernels/cpu/softmax_float.cpp): the
contiguous-row form (16 lanes and a tail) and the column-block form (64 columns and a
remainder), forward and backward, against float64 NumPy; NaN / -inf / inf rows; the same bits
for any thread count."""
import numpy as np
import pytest

import ranvier as rv
import ranvier.nn.functional as F


def np_softmax(x, dim):
    e = np.exp(x - np.max(x, axis=dim, keepdims=True))
    return e / e.sum(axis=dim, keepdims=True)


def np_log_softmax(x, dim):
    m = np.max(x, axis=dim, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=dim, keepdims=True))


# (shape, dim): rows of 1, 15, 16, 37 and 1000 elements; columns blocks of 1, 64 + 5 and 130
SHAPES = [((7, 1), 1), ((5, 15), 1), ((3, 16), -1), ((4, 37), 1), ((6, 1000), 1),
          ((3, 11, 1), 1), ((2, 9, 69), 1), ((130, 40), 0), ((2, 50, 3, 7), 1), ((1000, 3), 0)]


@pytest.mark.parametrize("shape,dim", SHAPES)
def test_forward_and_backward_against_float64(shape, dim):
    rng = np.random.default_rng(sum(shape))
    x = rng.uniform(-30, 30, shape).astype(np.float32)
    g = rng.standard_normal(shape).astype(np.float32)
    x64, g64 = x.astype(np.float64), g.astype(np.float64)
    for log in (False, True):
        t = rv.tensor(x, requires_grad=True)
        y = (F.log_softmax if log else F.softmax)(t, dim)
        y.backward(rv.tensor(g))
        if log:
            ref = np_log_softmax(x64, dim)
            gref = g64 - np.exp(ref) * g64.sum(axis=dim, keepdims=True)
        else:
            ref = np_softmax(x64, dim)
            gref = ref * (g64 - (g64 * ref).sum(axis=dim, keepdims=True))
        np.testing.assert_allclose(y.detach().numpy(), ref, rtol=2e-6, atol=1e-7 if not log else 2e-5)
        np.testing.assert_allclose(t.grad.numpy(), gref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dim", [1, 0])
def test_nan_and_infinite_rows(dim):
    rows = np.array([
        [1.0, np.nan] + [0.0] * 18,                 # a NaN: the whole row NaN
        [-np.inf] * 20,                             # all -inf: 0 / 0 = NaN
        [-np.inf, 2.0] + [-np.inf] * 18,            # one finite value takes everything
        [np.inf, 1.0] + [0.0] * 18,                 # inf - inf = NaN
        [-1000.0, 0.0] + [-50.0] * 18,              # far below the max: exp underflows to 0
    ], dtype=np.float32)
    x = rows if dim == 1 else rows.T.copy()
    y = F.softmax(rv.tensor(x), dim).numpy()
    ly = F.log_softmax(rv.tensor(x), dim).numpy()
    if dim == 0:
        y, ly = y.T, ly.T
    assert np.isnan(y[0]).all() and np.isnan(ly[0]).all()
    assert np.isnan(y[1]).all() and np.isnan(ly[1]).all()
    assert y[2, 1] == 1 and (y[2, [0] + list(range(2, 20))] == 0).all()
    assert ly[2, 1] == 0 and (ly[2, [0] + list(range(2, 20))] == -np.inf).all()
    assert np.isnan(y[3]).all()
    assert y[4, 0] == 0 and ly[4, 0] == -1000
    np.testing.assert_allclose(y[4], np_softmax(rows[4:5].astype(np.float64), 1)[0], rtol=1e-6,
                               atol=1e-30)


def test_same_bits_for_any_thread_count():
    rng = np.random.default_rng(5)
    x = rv.tensor(rng.standard_normal((64, 300)).astype(np.float32))
    g = rv.tensor(rng.standard_normal((64, 300)).astype(np.float32))
    old = rv.get_num_threads()
    out = {}
    try:
        for n in (1, 2, 3):
            rv.set_num_threads(n)
            res = []
            for dim in (1, 0):
                t = x.detach().requires_grad_()
                y = F.softmax(t, dim)
                y.backward(g)
                res += [y.detach().numpy(), t.grad.numpy(), F.log_softmax(x, dim).numpy()]
            out[n] = res
    finally:
        rv.set_num_threads(old)
    for a, b, c in zip(out[1], out[2], out[3]):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
