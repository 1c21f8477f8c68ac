"""sort / argsort / topk / unique against NumPy (stable sorts), gradients, errors."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import ranvier
from helpers import assert_close, gradcheck, gradgradcheck, noncontiguous, rand_np, shapes

from helpers import from_np as _from_np


def from_np(a, requires_grad=False):
    """helpers.from_np, keeping 0-d arrays 0-d (np.ascontiguousarray makes them 1-d)."""
    a = np.asarray(a)
    return _from_np(a, requires_grad=requires_grad).reshape(a.shape)


DTYPES = [np.float32, np.float64, np.int64, np.int32, np.uint8, np.bool_]


@given(shapes(0, 3, 0, 6), st.data())
def test_sort_against_numpy(shape, data):
    a = np.round(rand_np(shape) * 2) / 2  # many ties
    dim = data.draw(st.integers(-max(len(shape), 1), max(len(shape), 1) - 1))
    desc = data.draw(st.booleans())
    x = from_np(a)
    v, i = ranvier.sort(x, dim=dim, descending=desc, stable=True)
    if a.ndim == 0:
        assert_close(v, a)
        assert_close(i, np.array(0))
        return
    if desc:
        order = np.argsort(-a, axis=dim, kind="stable")
    else:
        order = np.argsort(a, axis=dim, kind="stable")
    assert_close(i, order.astype(np.int64))
    assert_close(v, np.take_along_axis(a, order, axis=dim))
    assert_close(noncontiguous(x).argsort(dim, desc, stable=True), order.astype(np.int64))
    r = x.sort(dim, desc)
    assert_close(r.values, v.numpy())
    assert_close(r.indices, i.numpy())


@pytest.mark.parametrize("dtype", DTYPES + [np.float16])
def test_sort_dtypes(dtype):
    a = rand_np((3, 7), dtype)
    v, i = from_np(a).sort(stable=True)
    order = np.argsort(a, axis=-1, kind="stable")
    assert_close(v, np.take_along_axis(a, order, -1))
    assert_close(i, order.astype(np.int64))


def test_sort_nan():
    a = np.array([3.0, np.nan, -1.0, np.nan, 2.0], np.float32)
    v, i = ranvier.sort(from_np(a))
    assert_close(v, np.sort(a))
    assert_close(i, np.argsort(a, kind="stable").astype(np.int64))
    v, _ = ranvier.sort(from_np(a), descending=True)
    assert_close(v, np.array([np.nan, np.nan, 3.0, 2.0, -1.0], np.float32))


@given(shapes(1, 3, 1, 6), st.data())
def test_topk_against_numpy(shape, data):
    a = rand_np(shape)  # continuous values: no ties
    dim = data.draw(st.integers(0, len(shape) - 1))
    k = data.draw(st.integers(0, shape[dim]))
    largest = data.draw(st.booleans())
    r = ranvier.topk(from_np(a), k, dim=dim, largest=largest)
    order = np.argsort(-a if largest else a, axis=dim, kind="stable")
    order = np.take(order, range(k), axis=dim)
    assert_close(r.values, np.take_along_axis(a, order, dim))
    assert_close(r.indices, order.astype(np.int64))
    v, i = from_np(a).topk(k, dim, largest)
    assert_close(v, np.take_along_axis(a, order, dim))


def test_sort_topk_grad_and_errors():
    a = rand_np((3, 5))
    assert gradcheck(lambda x: x.sort(1)[0] * ranvier.arange(5, dtype=ranvier.float64), a)
    assert gradcheck(lambda x: x.sort(0, descending=True).values, a)
    assert gradcheck(lambda x: ranvier.topk(x, 2, 1).values, a)
    assert gradgradcheck(lambda x: x.topk(3, 1).values * x.topk(3, 1).values, a)
    with pytest.raises(RuntimeError, match="k out of range"):
        ranvier.topk(ranvier.zeros(3), 4)
    with pytest.raises(IndexError, match="out of range"):
        ranvier.sort(ranvier.zeros(3), dim=1)


@given(shapes(0, 3, 0, 5))
def test_unique_against_numpy(shape):
    a = rand_np(shape, np.int64, low=0, high=4)
    x = from_np(a)
    u, inv, cnt = np.unique(a, return_inverse=True, return_counts=True)
    assert_close(ranvier.unique(x), u)
    ru, rinv, rcnt = x.unique(return_inverse=True, return_counts=True)
    assert_close(ru, u)
    assert_close(rinv, inv.reshape(a.shape).astype(np.int64))
    assert_close(rcnt, cnt.astype(np.int64))
    ru, rcnt = ranvier.unique(x, return_counts=True)
    assert_close(rcnt, cnt.astype(np.int64))


@pytest.mark.parametrize("dtype", DTYPES)
def test_unique_dtypes(dtype):
    a = rand_np((4, 5), dtype)
    assert_close(ranvier.unique(noncontiguous(from_np(a))), np.unique(a))


def test_zero_size_and_reduced_float():
    x = ranvier.zeros(0, 3)
    v, i = x.sort(0)
    assert tuple(v.shape) == (0, 3) and i.dtype == ranvier.int64
    v, i = x.topk(0, dim=1)
    assert tuple(v.shape) == (0, 0)
    assert tuple(ranvier.unique(x).shape) == (0,)
    u, inv, c = ranvier.unique(x, return_inverse=True, return_counts=True)
    assert tuple(inv.shape) == (0, 3) and tuple(c.shape) == (0,)
    a = rand_np((2, 6))
    b = from_np(a).to(ranvier.bfloat16)
    ref = b.float().numpy()
    v, i = b.sort(1, descending=True, stable=True)
    order = np.argsort(-ref, axis=1, kind="stable")
    assert v.dtype == ranvier.bfloat16
    assert_close(v.float(), np.take_along_axis(ref, order, 1))
    assert_close(i, order.astype(np.int64))


def test_sort_noncontiguous_dims_and_large_rows():
    a = rand_np((64, 300), np.float64)
    x = noncontiguous(from_np(a)).t()  # non-contiguous, sorted along the strided dim
    v, i = x.sort(dim=0)
    assert_close(v, np.sort(a.T, axis=0))
    assert_close(i, np.argsort(a.T, axis=0, kind="stable").astype(np.int64))
