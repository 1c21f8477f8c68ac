"""gather/scatter, index_select/index_add, masked ops, nonzero, take and index_put against
NumPy; gradients by finite differences; out-of-range and dtype errors."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import ranvier
from helpers import (assert_close, gradcheck, gradgradcheck, noncontiguous, rand_np,
                     shapes)

from helpers import from_np as _from_np


def from_np(a, requires_grad=False):
    """helpers.from_np, keeping 0-d arrays 0-d (np.ascontiguousarray makes them 1-d)."""
    a = np.asarray(a)
    return _from_np(a, requires_grad=requires_grad).reshape(a.shape)


DTYPES = [np.float32, np.float64, np.int64, np.int32, np.uint8, np.bool_]
rng = np.random.default_rng(0)


def np_gather(a, dim, idx):
    return np.take_along_axis(a, idx, axis=dim)


@given(shapes(1, 3, 1, 4), st.data())
def test_gather_against_numpy(shape, data):
    a = rand_np(shape)
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    ishape = tuple(data.draw(st.integers(0, s)) if i != dim % len(shape) else
                   data.draw(st.integers(0, 5)) for i, s in enumerate(shape))
    idx = np.random.default_rng(1).integers(0, shape[dim], size=ishape)
    expected = np.take_along_axis(a[tuple(slice(0, s) if i != dim % len(shape) else slice(None)
                                          for i, s in enumerate(ishape))], idx, axis=dim)
    x = from_np(a)
    assert_close(ranvier.gather(x, dim, from_np(idx)), expected)
    assert_close(noncontiguous(x).gather(dim, noncontiguous(from_np(idx))), expected)


@pytest.mark.parametrize("dtype", DTYPES)
def test_gather_scatter_dtypes(dtype):
    a = rand_np((3, 4), dtype)
    idx = np.array([[0, 2, 1, 0], [2, 2, 0, 1]])
    assert_close(from_np(a).gather(0, from_np(idx)), np_gather(a, 0, idx))
    src = rand_np((2, 4), dtype, np.random.default_rng(5))
    perm = np.array([[2, 0, 1, 1], [0, 1, 2, 0]])  # unique per column
    expected = a.copy()
    np.put_along_axis(expected, perm, src, axis=0)
    assert_close(from_np(a).scatter(0, from_np(perm), from_np(src)), expected)
    t = from_np(a)
    t.scatter_(0, from_np(perm), from_np(src))
    assert_close(t, expected)


def test_scatter_value_and_add():
    a = rand_np((3, 5))
    idx = np.array([[0, 1, 2, 0, 1]])
    expected = a.copy()
    np.put_along_axis(expected, idx, 9.5, axis=0)
    assert_close(ranvier.scatter(from_np(a), 0, from_np(idx), value=9.5), expected)
    assert_close(from_np(a).scatter(0, from_np(idx), 9.5), expected)
    # scatter_add with duplicates: np.add.at
    idx2 = np.array([[0, 0, 2, 0, 1], [0, 1, 0, 0, 1], [2, 2, 2, 2, 2]])
    src = rand_np((3, 5))
    exp = a.copy()
    for i in range(3):
        for j in range(5):
            exp[idx2[i, j], j] += src[i, j]
    assert_close(ranvier.scatter_add(from_np(a), 0, from_np(idx2), from_np(src)), exp, rtol=1e-5)
    t = from_np(a)
    t.scatter_add_(0, from_np(idx2), from_np(src))
    assert_close(t, exp, rtol=1e-5)


def test_gather_scatter_grads():
    idx = from_np(np.array([[0, 2, 1], [1, 1, 0]]))
    assert gradcheck(lambda x: x.gather(1, idx), rand_np((2, 3)))
    assert gradgradcheck(lambda x: x.gather(1, idx) * x.gather(1, idx), rand_np((2, 3)))
    perm = from_np(np.array([[1, 0, 2], [0, 2, 1]]))
    assert gradcheck(lambda x, s: x.scatter(1, perm, s), rand_np((2, 3)), rand_np((2, 3)))
    assert gradcheck(lambda x, s: x.scatter_add(1, idx, s), rand_np((2, 3)), rand_np((2, 3)))
    assert gradcheck(lambda x: x.scatter(1, perm[:, :1], 2.0), rand_np((2, 3)))


def test_gather_scatter_errors():
    x = ranvier.zeros(2, 3)
    with pytest.raises(IndexError, match=r"gather.*index 5 is out of bounds for dimension 1 with size 3"):
        x.gather(1, ranvier.tensor([[5]]))
    with pytest.raises(RuntimeError, match="int32/int64"):
        x.gather(1, ranvier.tensor([[1.0]]))
    assert_close(x.gather(1, ranvier.tensor([[2]], dtype=ranvier.int32)), np.zeros((1, 1), np.float32))
    with pytest.raises(RuntimeError, match="same number of dimensions"):
        x.gather(1, ranvier.tensor([1]))
    with pytest.raises(IndexError, match="out of range"):
        x.gather(2, ranvier.tensor([[1]]))
    y = ranvier.zeros(2, 3)
    with pytest.raises(IndexError, match=r"scatter.*index -1 is out of bounds"):
        y.scatter_(1, ranvier.tensor([[0, -1]]), 1.0)
    assert y.sum().item() == 0.0  # nothing written
    with pytest.raises(RuntimeError, match="dtype"):
        y.scatter(1, ranvier.tensor([[0]]), ranvier.zeros(1, 1, dtype=ranvier.float64))


@given(shapes(1, 3, 0, 4), st.data())
def test_index_select_against_numpy(shape, data):
    a = rand_np(shape)
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    n = shape[dim]
    k = data.draw(st.integers(0, 5))
    idx = np.random.default_rng(2).integers(0, n, size=k) if n else np.zeros(0, np.int64)
    assert_close(ranvier.index_select(from_np(a), dim, from_np(idx)), np.take(a, idx, axis=dim))
    assert_close(noncontiguous(from_np(a)).index_select(dim, from_np(idx.astype(np.int32))),
                 np.take(a, idx, axis=dim))


@pytest.mark.parametrize("dtype", DTYPES)
def test_index_select_add_dtypes(dtype):
    a = rand_np((4, 3), dtype)
    idx = np.array([3, 0, 3, 1])
    assert_close(from_np(a).index_select(0, from_np(idx)), a[idx])
    src = rand_np((4, 3), dtype, np.random.default_rng(3))
    if dtype == np.bool_:
        exp = a.copy()
        for i, j in enumerate(idx):
            exp[j] |= src[i]
    else:
        exp = a.copy()
        np.add.at(exp, idx, src)
    assert_close(from_np(a).index_add(0, from_np(idx), from_np(src)), exp)


def test_index_add_alpha_dim_and_inplace():
    a = rand_np((2, 5))
    src = rand_np((2, 3))
    idx = np.array([4, 0, 4])
    exp = a.copy()
    for i, j in enumerate(idx):
        exp[:, j] += 2.5 * src[:, i]
    assert_close(ranvier.index_add(from_np(a), 1, from_np(idx), from_np(src), alpha=2.5), exp,
                 rtol=1e-5)
    t = from_np(a)
    r = t.index_add_(1, from_np(idx), from_np(src), alpha=2.5)
    assert_close(t, exp, rtol=1e-5)
    assert r is t or r.data_ptr() == t.data_ptr()


def test_index_select_add_grads_and_errors():
    idx = from_np(np.array([2, 0, 2]))
    assert gradcheck(lambda x: x.index_select(1, idx), rand_np((2, 3)))
    assert gradgradcheck(lambda x: x.index_select(0, idx) * x.index_select(0, idx), rand_np((3, 2)))
    assert gradcheck(lambda x, s: x.index_add(0, idx, s, alpha=2), rand_np((3, 2)),
                     rand_np((3, 2)))
    x = ranvier.zeros(3, 2)
    with pytest.raises(IndexError, match=r"index_select.*index 3 is out of bounds"):
        x.index_select(0, ranvier.tensor([0, 3]))
    with pytest.raises(IndexError, match="vector"):
        x.index_select(0, ranvier.tensor([[0]]))
    with pytest.raises(RuntimeError, match="int32/int64"):
        x.index_select(0, ranvier.tensor([0.0]))
    with pytest.raises(RuntimeError, match="same scalar type"):
        x.index_add(0, ranvier.tensor([0]), ranvier.zeros(1, 2, dtype=ranvier.float64))
    with pytest.raises(RuntimeError, match="does not match the expected shape"):
        x.index_add(0, ranvier.tensor([0]), ranvier.zeros(2, 2))


@given(st.data())
def test_masked_fill_select(data):
    shape = data.draw(shapes(0, 3, 0, 4))
    a = rand_np(shape)
    mshape = shape[data.draw(st.integers(0, len(shape))):]
    m = np.random.default_rng(4).integers(0, 2, size=mshape).astype(bool)
    x = from_np(a)
    exp = np.where(np.broadcast_to(m, a.shape), np.float32(-3.0), a)
    assert_close(x.masked_fill(from_np(m), -3.0), exp)
    assert_close(ranvier.masked_fill(noncontiguous(x), from_np(m), ranvier.tensor(-3.0)), exp)
    assert_close(x.masked_select(from_np(m)), a[np.broadcast_to(m, a.shape)])
    y = from_np(a)
    y.masked_fill_(from_np(m), -3.0)
    assert_close(y, exp)


@pytest.mark.parametrize("dtype", DTYPES)
def test_masked_dtypes(dtype):
    a = rand_np((3, 4), dtype)
    m = rand_np((3, 4), np.bool_)
    v = True if dtype == np.bool_ else 1
    assert_close(from_np(a).masked_fill(from_np(m), v), np.where(m, dtype(v), a))
    assert_close(ranvier.masked_select(from_np(a), from_np(m)), a[m])


def test_masked_grads_and_errors():
    m = from_np(np.array([[True, False, True], [False, False, True]]))
    assert gradcheck(lambda x: x.masked_fill(m, 2.0) * x, rand_np((2, 3)))
    assert gradcheck(lambda x, v: x.masked_fill(m, v.reshape(())), rand_np((2, 3)), np.array([1.5]))
    assert gradcheck(lambda x: x.masked_select(m), rand_np((2, 3)))
    assert gradcheck(lambda x: x.masked_select(m), rand_np((3,)))
    with pytest.raises(RuntimeError, match="boolean masks"):
        ranvier.zeros(3).masked_fill(ranvier.tensor([1, 0, 1]), 1.0)
    with pytest.raises(RuntimeError, match="0-dimensional value"):
        ranvier.zeros(3).masked_fill(ranvier.tensor([True, False, True]), ranvier.zeros(2))
    with pytest.raises(RuntimeError):
        ranvier.zeros(3).masked_fill_(ranvier.ones(2, 3, dtype=ranvier.bool), 1.0)


@given(shapes(0, 4, 0, 4))
def test_nonzero(shape):
    a = rand_np(shape, np.int64, low=0, high=1) * rand_np(shape, np.bool_)
    x = from_np(a)
    assert_close(ranvier.nonzero(x), np.argwhere(a))
    t = x.nonzero(as_tuple=True)
    exp = np.nonzero(a) if a.ndim else np.nonzero(a.reshape(1))
    assert len(t) == len(exp)
    for r, e in zip(t, exp):
        assert_close(r, e.astype(np.int64))
    assert_close(noncontiguous(x).nonzero(), np.argwhere(a))


def test_where_one_argument():
    a = np.array([[0, 1, 0], [2, 0, 3]])
    r = ranvier.where(from_np(a))
    assert isinstance(r, tuple) and len(r) == 2
    for got, exp in zip(r, np.where(a)):
        assert_close(got, exp.astype(np.int64))


@pytest.mark.parametrize("dtype", DTYPES + [np.float16])
def test_nonzero_dtypes(dtype):
    a = np.array([[0, 1, 0], [2, 0, 0]]).astype(dtype)
    assert_close(from_np(a).nonzero(), np.argwhere(a))


def test_take():
    a = rand_np((3, 4))
    idx = np.array([[0, 11], [-1, 5]])
    assert_close(ranvier.take(from_np(a), from_np(idx)), np.take(a, idx))
    assert_close(noncontiguous(from_np(a)).take(from_np(idx)), np.take(a, idx))
    assert gradcheck(lambda x: x.take(from_np(idx)), a)
    with pytest.raises(IndexError, match="out of bounds"):
        from_np(a).take(ranvier.tensor([12]))


def test_index_put():
    a = rand_np((3, 4))
    i0, i1 = np.array([0, 2, 0]), np.array([1, 3, 1])
    vals = rand_np((3,))
    exp = a.copy()
    np.add.at(exp, (i0, i1), vals)
    x = from_np(a)
    x.index_put_((from_np(i0), from_np(i1)), from_np(vals), accumulate=True)
    assert_close(x, exp, rtol=1e-5)
    exp2 = a.copy()
    exp2[i0[1:], i1[1:]] = vals[1:]
    r = ranvier.index_put(from_np(a), (from_np(i0[1:]), from_np(i1[1:])), from_np(vals[1:]))
    assert_close(r, exp2)
    assert gradcheck(lambda s, v: s.index_put((from_np(i0[1:]), None), v),
                     rand_np((3, 4)), rand_np((2, 4)))
    assert gradcheck(lambda s, v: s.index_put((from_np(i0), from_np(i1)), v, accumulate=True),
                     rand_np((3, 4)), rand_np((1,)))
    with pytest.raises(RuntimeError, match="shape mismatch"):
        from_np(a).index_put_((from_np(i0),), ranvier.zeros(2, 4))


def test_zero_size_inputs():
    a = np.zeros((0, 3), np.float32)
    x = from_np(a)
    e = from_np(np.zeros((0, 3), np.int64))
    assert_close(x.gather(0, e), a)
    assert_close(x.scatter(0, e, x), a)
    assert_close(x.scatter_add(0, e, x), a)
    assert_close(x.index_select(1, from_np(np.array([2, 0]))), a[:, [2, 0]])
    assert_close(ranvier.zeros(2, 3).index_select(0, from_np(np.zeros(0, np.int64))),
                 np.zeros((0, 3), np.float32))
    assert_close(x.masked_fill(from_np(np.zeros((0, 3), bool)), 1.0), a)
    assert_close(x.masked_select(from_np(np.zeros((0, 3), bool))), np.zeros(0, np.float32))
    assert_close(x.nonzero(), np.zeros((0, 2), np.int64))
    assert_close(x[from_np(np.zeros(0, np.int64))], a)
    assert_close(ranvier.zeros(2, 0)[[1, 0]], np.zeros((2, 0), np.float32))
    y = ranvier.zeros(2, 0)
    y[[1, 0]] = 3.0
    assert tuple(y.shape) == (2, 0)


@pytest.mark.parametrize("dtype", [ranvier.float16, ranvier.bfloat16])
def test_reduced_float_dtypes(dtype):
    a = rand_np((3, 4))
    x = from_np(a).to(dtype)
    ref = x.float().numpy()
    idx = np.array([[2, 0, 1, 1]])
    assert_close(x.gather(0, from_np(idx)).float(), np.take_along_axis(ref, idx, 0))
    assert_close(x.index_select(1, from_np(np.array([3, 1]))).float(), ref[:, [3, 1]])
    assert_close(x.index_add(0, from_np(np.array([0, 0])), x[:2]).float(),
                 ref + np.concatenate([ref[:1] + ref[1:2], np.zeros((2, 4), np.float32)]),
                 rtol=1e-2, atol=1e-2)
    assert_close(x[x > 0].float(), ref[ref > 0])
    assert_close(x.masked_fill(x > 0, 1.0).float(), np.where(ref > 0, 1.0, ref).astype(np.float32))
    assert x.gather(0, from_np(idx)).dtype == dtype


def test_unsupported_arguments():
    x = ranvier.zeros(2, 3)
    with pytest.raises(NotImplementedError, match="reduce"):
        x.scatter(0, ranvier.tensor([[0]]), 1.0, reduce="add")
    with pytest.raises(NotImplementedError, match="dim"):
        ranvier.unique(x, dim=0)
    with pytest.raises(TypeError, match="src tensor or a value"):
        ranvier.scatter(x, 0, ranvier.tensor([[0]]))


def test_results_do_not_depend_on_thread_count():
    a = rand_np((300, 257), np.float64)
    idx = np.random.default_rng(7).integers(0, 300, size=(400,))
    gi = np.random.default_rng(8).integers(0, 257, size=(300, 257))
    x = from_np(a)
    outs = []
    n0 = ranvier.get_num_threads()
    try:
        for n in (1, 2):
            ranvier.set_num_threads(n)
            y = ranvier.zeros(300, 257, dtype=ranvier.float64)
            y.index_add_(0, from_np(idx), x[from_np(idx)])
            outs.append([x[from_np(idx)].numpy().copy(), x.gather(1, from_np(gi)).numpy().copy(),
                         x.sort(0).values.numpy().copy(), y.numpy().copy(),
                         x[x > 0].numpy().copy()])
    finally:
        ranvier.set_num_threads(n0)
    for r1, r2 in zip(*outs):
        np.testing.assert_array_equal(r1, r2)
    np.testing.assert_array_equal(outs[0][0], a[idx])
    np.testing.assert_array_equal(outs[0][1], np.take_along_axis(a, gi, 1))
