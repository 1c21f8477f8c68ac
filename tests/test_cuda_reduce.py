"""CUDA reduction and scan kernels against the CPU ones (skipped without a usable GPU): sum,
mean, prod, amax/amin, max/min with indices, argmax/argmin (first winner on ties, NaN wins),
all/any, var/std, norms, logsumexp, cumsum/cumprod (and cumprod's backward), over every dtype,
several dims, odd, long and non-contiguous inputs, zero-size inputs; results are the same for
repeated runs (no atomics)."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ranvier
from helpers import NP_DTYPES, from_np, rand_np, shapes, host_np as host, noncontiguous as nc

pytestmark = pytest.mark.skipif(not ranvier.cuda.is_available(), reason="no CUDA device")

ALL_DTYPES = [ranvier.float32, ranvier.float64, ranvier.float16, ranvier.bfloat16,
              ranvier.int64, ranvier.int32, ranvier.uint8, ranvier.bool]


def make(shape, dtype, seed=0, low=-3.0, high=3.0):
    a = rand_np(shape, NP_DTYPES.get(dtype, np.float32), rng=np.random.default_rng(seed),
                low=low, high=high)
    return from_np(a).to(dtype)


def tol(dtype):
    return {ranvier.float16: 3e-3, ranvier.bfloat16: 2e-2, ranvier.float32: 1e-5}.get(dtype, 1e-11)


def check(got, exp):
    assert got.device.type == "cuda"
    assert got.dtype == exp.dtype and tuple(got.shape) == tuple(exp.shape)
    e, g = host(exp), host(got)
    if e.dtype == np.bool_ or np.issubdtype(e.dtype, np.integer):
        np.testing.assert_array_equal(g, e)
    else:
        np.testing.assert_allclose(g, e, rtol=tol(exp.dtype), atol=tol(exp.dtype), equal_nan=True)


def same(fn, *tensors):
    try:
        exp = fn(*tensors)
    except Exception as e:
        with pytest.raises(type(e)):
            fn(*[t.cuda() for t in tensors])
        return
    got = fn(*[t.cuda() for t in tensors])
    if isinstance(exp, (tuple, list)):
        for g, e in zip(got, exp):
            check(g, e)
    else:
        check(got, exp)


REDUCTIONS = {
    "sum": lambda t, d: t.sum(d),
    "sum_keepdim": lambda t, d: t.sum(d, keepdim=True),
    "mean": lambda t, d: t.mean(d),
    "prod": lambda t, d: t.prod(d),
    "amax": lambda t, d: t.amax(d),
    "amin": lambda t, d: t.amin(d),
    "max_dim": lambda t, d: t.max(d),
    "min_dim": lambda t, d: t.min(d),
    "argmax": lambda t, d: t.argmax(d),
    "argmin": lambda t, d: t.argmin(d),
    "all": lambda t, d: t.all(d),
    "any": lambda t, d: t.any(d),
    "var": lambda t, d: t.var(d),
    "std": lambda t, d: t.std(d, correction=0),
    "logsumexp": lambda t, d: ranvier.logsumexp(t, d),
    "norm1": lambda t, d: ranvier.norm(t, 1, [d]),
    "norm2": lambda t, d: ranvier.norm(t, 2, [d]),
    "norm3": lambda t, d: ranvier.norm(t, 3.5, [d]),
    "norminf": lambda t, d: ranvier.norm(t, float("inf"), [d]),
    "norm0": lambda t, d: ranvier.norm(t, 0, [d]),
}


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
@pytest.mark.parametrize("name", sorted(REDUCTIONS))
def test_reduction_every_dtype(name, dtype):
    fn = REDUCTIONS[name]
    # small integers: many ties for argmax/argmin; a long row takes the block walk
    for shape, dim in (((5, 7, 3), 1), ((5, 7, 3), 0), ((5, 7, 3), 2), ((3, 5000), 1),
                       ((3000, 4), 0), ((1, 70001), 1)):
        t = make(shape, dtype, seed=len(shape) + dim, low=-3, high=3)
        if dtype in (ranvier.int64, ranvier.int32, ranvier.uint8) and name == "prod":
            t = make(shape, dtype, seed=1, low=0, high=1)
        same(lambda x: fn(x, dim), t)
    same(lambda x: fn(nc(x), 1), make((4, 9, 5), dtype, seed=3))
    same(lambda x: fn(x, 0), make((4, 9, 5), dtype, seed=4).transpose(0, 2))
    same(lambda x: fn(x, 1), make((3, 0), dtype))


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
def test_full_reductions(dtype):
    t = make((37, 41), dtype, seed=5, low=0, high=2)
    for fn in (lambda x: x.sum(), lambda x: x.max(), lambda x: x.min(), lambda x: x.argmax(),
               lambda x: x.argmin(), lambda x: x.all(), lambda x: x.any(), lambda x: x.mean()):
        same(fn, t)
        same(lambda x: fn(nc(x)), t)
    same(lambda x: x.sum(), make((0, 4), dtype))


def test_nan_and_ties():
    a = np.array([[1.0, 3.0, 3.0, np.nan, 2.0, np.nan], [5.0, 5.0, -1.0, -1.0, 0.0, 5.0]],
                 dtype=np.float32)
    t = from_np(a)
    for fn in (lambda x: x.argmax(1), lambda x: x.argmin(1), lambda x: x.max(1),
               lambda x: x.amax(1), lambda x: x.amin(0), lambda x: x.sum(1)):
        same(fn, t)
    big = np.zeros(100000, dtype=np.float32)
    big[[7, 500, 99999]] = 4.0  # ties across the block's partial results
    same(lambda x: x.argmax(), from_np(big))
    big[77777] = np.nan
    same(lambda x: x.argmax(), from_np(big))
    same(lambda x: x.argmin(), from_np(-big))


@pytest.mark.parametrize("rows,cols", [(5000, 70), (300, 33), (40000, 3), (2049, 2304)])
def test_column_reductions(rows, cols):
    """Reducing the outer dim of a row-major matrix (a bias gradient's sum): the column walk
    splits the rows over blocks and folds the chunks in order; against NumPy float64 sums and
    the CPU's first-winner max/argmax (ties planted across chunk boundaries)."""
    a = rand_np((rows, cols), np.float32, rng=np.random.default_rng(9))
    a[[0, rows // 2, rows - 1], 1] = 9.0  # ties in column 1
    t = from_np(a).cuda()
    np.testing.assert_allclose(host(t.sum(0)), a.astype(np.float64).sum(0), rtol=1e-5, atol=1e-4)
    same(lambda x: x.max(0), from_np(a))
    same(lambda x: x.argmin(0), from_np(a))
    i = from_np(np.random.default_rng(10).integers(-50, 50, size=(rows, cols)))
    same(lambda x: x.sum(0), i)
    same(lambda x: x.sum((0, 1), keepdim=True), i)
    b = from_np(a.reshape(rows, 1, cols))
    same(lambda x: x.sum(0), b.expand(rows, 2, cols))
    np.testing.assert_array_equal(host(t.sum(0)), host(t.sum(0)))
    for dt in (ranvier.bfloat16, ranvier.float16):  # 16-bit input read in place, float32 sums
        h = from_np(a).to(dt)
        exact = host(h.double()).sum(0)
        got = t.to(dt).sum(0)
        assert got.dtype == dt
        step = 2.0 ** -7 if dt == ranvier.bfloat16 else 2.0 ** -10
        np.testing.assert_allclose(host(got.double()), exact, rtol=step, atol=1e-3)


def test_deterministic():
    t = make((3, 300001), ranvier.float32, seed=6).cuda()
    first = host(t.sum(1))
    for _ in range(3):
        np.testing.assert_array_equal(host(t.sum(1)), first)
    np.testing.assert_array_equal(host(t.var(1)), host(t.var(1)))


@settings(max_examples=20, deadline=None)
@given(shape=shapes(min_dims=1, max_dims=4, max_side=6), data=st.data())
def test_reduction_shapes(shape, data):
    dims = data.draw(st.lists(st.integers(0, len(shape) - 1), unique=True, max_size=len(shape)))
    t = make(shape, ranvier.float64, seed=7)
    same(lambda x: x.sum(dims), t)
    same(lambda x: x.amax(dims) if x.numel() else x.sum(dims), t)
    same(lambda x: x.prod(dims[0] if dims else 0), t)


def test_reduction_backward():
    a = rand_np((6, 11), np.float64, rng=np.random.default_rng(8))
    grads = []
    for dev in ("cpu", "cuda"):
        x = from_np(a).to(dev).requires_grad_(True)
        (x.sum(1) * 2 + x.amax(0).sum() + x.prod(1).sum() + x.std(0).sum()
         + ranvier.logsumexp(x, [1]).sum()).sum().backward()
        grads.append(host(x.grad))
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
def test_cumsum_cumprod(dtype):
    t = make((6, 9, 4), dtype, seed=9, low=-1.0, high=1.5)
    for dim in (0, 1, 2, -1):
        same(lambda x: ranvier.cumsum(x, dim), t)
        same(lambda x: ranvier.cumprod(x, dim), t)
        same(lambda x: ranvier.cumsum(nc(x), dim), t)
    same(lambda x: ranvier.cumsum(x, 0, dtype=ranvier.float64), t)
    same(lambda x: ranvier.cumsum(x, 1), make((3, 0), dtype))
    same(lambda x: ranvier.cumsum(x, 0), make((100000,), dtype, low=0, high=1))


@pytest.mark.parametrize("dtype", [ranvier.float32, ranvier.float64], ids=str)
def test_cumsum_cumprod_backward(dtype):
    a = rand_np((5, 8), NP_DTYPES[dtype], rng=np.random.default_rng(10))
    a[1, 3] = 0.0
    a[2, 2:4] = 0.0
    grads = []
    for dev in ("cpu", "cuda"):
        x = from_np(a).to(dev).requires_grad_(True)
        (ranvier.cumprod(x, 1).sum() + (ranvier.cumsum(x, 0) ** 2).sum()).backward()
        grads.append(host(x.grad))
    np.testing.assert_allclose(grads[1], grads[0], rtol=tol(dtype), atol=tol(dtype))
