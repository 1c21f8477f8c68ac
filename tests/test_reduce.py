"""Reductions and scans against NumPy: sum, mean, prod, all, any, amax/amin, max/min (with
and without dim), argmax/argmin, var/std (+ var_mean/std_mean), logsumexp, norm, cumsum,
cumprod. Random shapes and dims (hypothesis), keepdim, non-contiguous and zero-size inputs,
every accepted dtype, NaN propagation and the error cases."""
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

import ranvier as rv
from helpers import assert_close, from_np, noncontiguous, rand_np, shapes, to_np

ALL = [np.float32, np.float64, np.int64, np.int32, np.uint8, np.bool_]
FLOAT = [np.float32, np.float64]
RV = {np.float32: rv.float32, np.float64: rv.float64, np.int64: rv.int64, np.int32: rv.int32,
      np.uint8: rv.uint8, np.bool_: rv.bool}


@st.composite
def shape_dims(draw, min_side=0, max_side=4, allow_none=True):
    """(shape, dims, keepdim): dims is None, an int or a tuple of distinct dims."""
    shape = draw(shapes(0, 4, min_side, max_side))
    nd = len(shape)
    kinds = (["none"] if allow_none else []) + (["int", "tuple"] if nd else [])
    kind = draw(st.sampled_from(kinds or ["none"]))
    if kind == "none":
        dims = None
    elif kind == "int":
        dims = draw(st.integers(-nd, nd - 1))
    else:
        dims = tuple(draw(st.lists(st.integers(0, nd - 1), unique=True, min_size=1, max_size=nd)))
    return shape, dims, draw(st.booleans())


def np_axis(dims):
    return dims if dims is None or isinstance(dims, int) else tuple(dims)


def make(a, noncontig):
    t = from_np(a).reshape(a.shape)  # from_np turns a 0-d array into shape (1,)
    return noncontiguous(t) if noncontig else t


def widen(a):
    """NumPy array in the dtype ranvier's sum/prod/cumsum give (int64 for integers and bool)."""
    return a if np.issubdtype(a.dtype, np.floating) else a.astype(np.int64)


# ---- sum / mean / prod ----

@given(shape_dims(), st.sampled_from(ALL), st.booleans())
def test_sum(sdk, dt, nc):
    shape, dims, keepdim = sdk
    a = rand_np(shape, dt)
    exp = widen(a).sum(axis=np_axis(dims), keepdims=keepdim)
    assert_close(make(a, nc).sum(dims, keepdim), exp, rtol=1e-5, atol=1e-5)
    assert_close(rv.sum(make(a, nc), dim=dims, keepdim=keepdim), exp, rtol=1e-5, atol=1e-5)


@given(shape_dims(), st.sampled_from(FLOAT), st.booleans())
def test_mean(sdk, dt, nc):
    shape, dims, keepdim = sdk
    a = rand_np(shape, dt)
    with np.errstate(invalid="ignore", divide="ignore"):
        exp = a.mean(axis=np_axis(dims), keepdims=keepdim) if a.size else \
            np.full(np.sum(a, axis=np_axis(dims), keepdims=keepdim).shape, np.nan, dtype=dt)
    assert_close(make(a, nc).mean(dims, keepdim), exp, rtol=1e-5, atol=1e-6)


@given(shape_dims(max_side=3), st.sampled_from(ALL), st.booleans())
def test_prod(sdk, dt, nc):
    shape, dims, keepdim = sdk
    a = rand_np(shape, dt, low=-1.5, high=1.5) if dt in FLOAT else rand_np(shape, dt, high=2)
    exp = widen(a).prod(axis=np_axis(dims), keepdims=keepdim)
    assert_close(make(a, nc).prod(dims, keepdim), exp, rtol=1e-5, atol=1e-6)


def test_dtype_argument():
    a = rand_np((3, 4), np.float32)
    assert_close(from_np(a).sum(1, dtype=rv.float64), a.astype(np.float64).sum(1), rtol=1e-12)
    i = rand_np((3, 4), np.int32)
    assert_close(rv.mean(from_np(i), 0, dtype=rv.float64), i.astype(np.float64).mean(0))
    assert_close(from_np(i).prod(dtype=rv.int32), np.array(i.prod(), dtype=np.int32))
    assert_close(from_np(i).sum(dtype=rv.int32), np.array(i.sum(), dtype=np.int32))
    assert_close(from_np(a).cumsum(0, dtype=rv.float64), np.cumsum(a.astype(np.float64), 0),
                 rtol=1e-12)
    assert_close(from_np(i).cumprod(1, dtype=rv.float32), np.cumprod(i.astype(np.float32), 1))


def test_integer_and_bool_results_are_int64():
    for dt in (np.int32, np.uint8, np.bool_):
        t = from_np(rand_np((4,), dt))
        assert t.sum().dtype == rv.int64
        assert t.prod().dtype == rv.int64
        assert t.cumsum(0).dtype == rv.int64
        assert t.cumprod(0).dtype == rv.int64
        assert t.amax().dtype == RV[dt]


# ---- all / any ----

@given(shape_dims(), st.sampled_from(ALL), st.booleans())
def test_all_any(sdk, dt, nc):
    shape, dims, keepdim = sdk
    a = rand_np(shape, dt, low=0, high=1) if dt not in FLOAT else \
        np.where(rand_np(shape, np.bool_), rand_np(shape, dt), 0).astype(dt)
    out_dt = np.uint8 if dt == np.uint8 else np.bool_
    for fn, ref in (("all", np.all), ("any", np.any)):
        exp = ref(a, axis=np_axis(dims), keepdims=keepdim).astype(out_dt)
        assert_close(getattr(make(a, nc), fn)(dims, keepdim), exp)


# ---- max / min family ----

@given(shape_dims(min_side=1), st.sampled_from(ALL), st.booleans())
def test_amax_amin(sdk, dt, nc):
    shape, dims, keepdim = sdk
    a = rand_np(shape, dt)
    d = () if dims is None else dims
    assert_close(make(a, nc).amax(d, keepdim), a.max(axis=np_axis(dims), keepdims=keepdim))
    assert_close(rv.amin(make(a, nc), d, keepdim), a.min(axis=np_axis(dims), keepdims=keepdim))


@given(shape_dims(min_side=1, allow_none=False), st.sampled_from(ALL), st.booleans())
def test_max_min_with_dim(sdk, dt, nc):
    shape, dims, keepdim = sdk
    if not isinstance(dims, int):
        dims = dims[0] if dims else 0
    a = rand_np(shape, dt, low=-3, high=3)  # integer ties are common: first index wins
    ax = dims if a.ndim else None
    for fn, vref, iref in (("max", np.max, np.argmax), ("min", np.min, np.argmin)):
        r = getattr(make(a, nc), fn)(dims, keepdim)
        values, indices = r  # tuple-unpackable
        exp_i = iref(a, axis=ax, keepdims=keepdim).astype(np.int64) if a.ndim else np.array(0)
        assert_close(r.values, vref(a, axis=ax, keepdims=keepdim))
        assert_close(r.indices, exp_i)
        assert_close(values, vref(a, axis=ax, keepdims=keepdim))
        assert_close(indices, exp_i)
    assert type(r).__name__ == "min" and "values" in r._fields


@given(shapes(0, 4, 1, 4), st.sampled_from(ALL), st.booleans())
def test_max_min_all(shape, dt, nc):
    a = rand_np(shape, dt)
    assert_close(make(a, nc).max(), np.array(a.max()))
    assert_close(rv.min(make(a, nc)), np.array(a.min()))


@given(shape_dims(min_side=1, allow_none=True), st.sampled_from(ALL[:-1]), st.booleans())
def test_argmax_argmin(sdk, dt, nc):
    shape, dims, keepdim = sdk
    a = rand_np(shape, dt, low=-3, high=3)
    if dims is not None and not isinstance(dims, int):
        dims = dims[0]
    for fn, ref in (("argmax", np.argmax), ("argmin", np.argmin)):
        if dims is None or a.ndim == 0:
            exp = np.array(ref(a), dtype=np.int64)
            if keepdim:
                exp = exp.reshape((1,) * a.ndim)
        else:
            exp = ref(a, axis=dims, keepdims=keepdim).astype(np.int64)
        assert_close(getattr(make(a, nc), fn)(dims, keepdim), exp)


def test_nan_propagates_like_pytorch():
    a = np.array([[1.0, np.nan, 3.0, np.nan], [4.0, 2.0, 0.0, 1.0]], dtype=np.float32)
    t = from_np(a)
    assert math.isnan(t.max().item()) and math.isnan(t.amin().item())
    r = t.max(1)
    assert_close(r.values, np.array([np.nan, 4.0], dtype=np.float32))
    assert_close(r.indices, np.array([1, 0]))
    assert_close(t.min(1).indices, np.array([1, 2]))
    assert_close(t.argmax(1), np.array([1, 0]))
    assert_close(t.argmin(), np.array(1))
    assert_close(t.amax(0), np.array([4.0, np.nan, 3.0, np.nan], dtype=np.float32))


@pytest.mark.parametrize("op", ["sum", "mean", "amax", "cumsum", "max"])
def test_reduced_floats(op):
    a = rand_np((5, 7), np.float32)
    for dt in (rv.float16, rv.bfloat16):
        t = from_np(a).to(dt)
        ref = to_np(t.float()).astype(np.float64)
        if op == "cumsum":
            out, exp = t.cumsum(1), np.cumsum(ref, 1)
        elif op == "max":
            out, exp = t.max(0).values, ref.max(0)
        else:
            out = getattr(t, op)(1)
            exp = {"sum": ref.sum(1), "mean": ref.mean(1), "amax": ref.max(1)}[op]
        assert out.dtype == dt
        assert_close(out.float(), exp.astype(np.float32), rtol=2e-2, atol=2e-2)


# ---- var / std / logsumexp / norm ----

@given(shape_dims(), st.sampled_from(FLOAT), st.sampled_from([0, 1, 2]), st.booleans())
def test_var_std(sdk, dt, corr, nc):
    shape, dims, keepdim = sdk
    a = rand_np(shape, dt)
    ax = np_axis(dims)
    n = a.size // max(np.sum(a, axis=ax, keepdims=True).size, 1) if a.size else 0
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.mean(a.astype(np.float64), axis=ax, keepdims=True) if a.size else 0.0
        ss = np.sum((a.astype(np.float64) - mean) ** 2, axis=ax, keepdims=keepdim)
        var = (ss / max(n - corr, 0)).astype(dt)
    t = make(a, nc)
    assert_close(t.var(dims, keepdim=keepdim, correction=corr), var, rtol=1e-4, atol=1e-5)
    assert_close(rv.std(t, dims, keepdim=keepdim, correction=corr), np.sqrt(var), rtol=1e-4,
                 atol=1e-5)
    if corr in (0, 1):
        assert_close(t.var(dims, unbiased=bool(corr), keepdim=keepdim), var, rtol=1e-4, atol=1e-5)
    v, m = rv.var_mean(t, dims, keepdim=keepdim, correction=corr)
    s, m2 = rv.std_mean(t, dims, keepdim=keepdim, correction=corr)
    assert_close(v, var, rtol=1e-4, atol=1e-5)
    assert_close(s, np.sqrt(var), rtol=1e-4, atol=1e-5)
    with np.errstate(invalid="ignore"):
        exp_m = np.mean(a, axis=ax, keepdims=keepdim) if a.size else var * np.nan
    assert_close(m, exp_m.astype(dt), rtol=1e-5, atol=1e-6)
    assert_close(m2, exp_m.astype(dt), rtol=1e-5, atol=1e-6)


def test_var_positional_unbiased():
    a = rand_np((4, 5), np.float32)
    assert_close(from_np(a).var(False), np.array(a.var(), dtype=np.float32), rtol=1e-5)
    assert_close(from_np(a).std(1, True, True), a.std(1, ddof=1, keepdims=True), rtol=1e-5)


def np_logsumexp(a, axis, keepdims):
    a64 = a.astype(np.float64)
    m = np.max(a64, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    r = np.log(np.sum(np.exp(a64 - m), axis=axis, keepdims=True)) + m
    return r if keepdims else np.squeeze(r, axis=axis)


@given(shape_dims(min_side=1, allow_none=False), st.sampled_from(FLOAT), st.booleans())
def test_logsumexp(sdk, dt, nc):
    shape, dims, keepdim = sdk
    a = rand_np(shape, dt, low=-50, high=50)
    exp = np_logsumexp(a, np_axis(dims) if a.ndim else None, keepdim).astype(dt)
    assert_close(make(a, nc).logsumexp(dims, keepdim), exp, rtol=1e-5, atol=1e-5)


def test_logsumexp_is_stable_and_handles_infinities():
    t = rv.tensor([[1000.0, 1000.0], [-1000.0, -1000.0], [-math.inf, -math.inf], [math.inf, 1.0]])
    out = rv.logsumexp(t, 1).numpy()
    np.testing.assert_allclose(out[:2], [1000 + math.log(2), -1000 + math.log(2)], rtol=1e-6)
    assert out[2] == -math.inf and out[3] == math.inf
    assert rv.logsumexp(rv.tensor([1, 2, 3]), 0).dtype == rv.float32
    assert rv.logsumexp(rv.zeros(0, 3), 0).numpy().tolist() == [-math.inf] * 3


def np_norm(a, p, axis, keepdims):
    x = np.abs(a.astype(np.float64))
    if p == math.inf:
        return x.max(axis=axis, keepdims=keepdims)
    if p == -math.inf:
        return x.min(axis=axis, keepdims=keepdims)
    if p == 0:
        return (x != 0).sum(axis=axis, keepdims=keepdims).astype(np.float64)
    return (x ** p).sum(axis=axis, keepdims=keepdims) ** (1.0 / p)


@given(shape_dims(min_side=1), st.sampled_from(FLOAT),
       st.sampled_from([2, 1, 0, 3, 0.5, math.inf, -math.inf, "fro"]), st.booleans())
def test_norm(sdk, dt, p, nc):
    shape, dims, keepdim = sdk
    a = rand_np(shape, dt)
    pn = 2 if p == "fro" else p
    exp = np_norm(a, pn, np_axis(dims), keepdim).astype(dt)
    out = make(a, nc).norm(p, dims, keepdim)
    assert_close(out, exp, rtol=1e-5, atol=1e-6)


def test_norm_default_and_dtype():
    a = rand_np((3, 4), np.float32)
    assert_close(from_np(a).norm(), np.array(np.sqrt((a.astype(np.float64) ** 2).sum()),
                                             dtype=np.float32), rtol=1e-6)
    assert from_np(a).norm(dtype=rv.float64).dtype == rv.float64
    assert rv.norm(rv.zeros(0, 3)).item() == 0.0


# ---- cumsum / cumprod ----

@given(shapes(0, 4, 0, 5), st.data(), st.sampled_from(ALL), st.booleans())
def test_cumsum_cumprod(shape, data, dt, nc):
    a = rand_np(shape, dt, low=-1.5, high=1.5) if dt in FLOAT else rand_np(shape, dt, high=2)
    nd = len(shape)
    d = data.draw(st.integers(-max(nd, 1), max(nd, 1) - 1))
    ax = d if nd else None
    exp_s = np.cumsum(widen(a), axis=ax).reshape(shape)
    exp_p = np.cumprod(widen(a), axis=ax).reshape(shape)
    assert_close(make(a, nc).cumsum(d), exp_s, rtol=1e-5, atol=1e-5)
    assert_close(rv.cumprod(make(a, nc), d), exp_p, rtol=1e-5, atol=1e-6)


# ---- zero-size inputs ----

def test_zero_size_results():
    z = rv.zeros(0, 3)
    assert_close(z.sum(), np.array(0.0, dtype=np.float32))
    assert_close(z.sum(0), np.zeros(3, np.float32))
    assert_close(z.sum(1), np.zeros(0, np.float32))
    assert_close(z.prod(0), np.ones(3, np.float32))
    assert math.isnan(z.mean().item())
    assert z.all().item() is True and z.any().item() is False
    assert tuple(z.cumsum(0).shape) == (0, 3)
    r = z.max(1)
    assert tuple(r.values.shape) == (0,) and tuple(r.indices.shape) == (0,)
    assert tuple(z.amax(1).shape) == (0,)


@pytest.mark.parametrize("call,exc,msg", [
    (lambda z: z.max(), RuntimeError, r"max\(\): Expected reduction dim to be specified"),
    (lambda z: z.min(), RuntimeError, r"min\(\): Expected reduction dim to be specified"),
    (lambda z: z.amax(), RuntimeError, r"amax\(\): Expected reduction dim to be specified"),
    (lambda z: z.max(0), IndexError, r"max\(\): Expected reduction dim 0 to have non-zero size"),
    (lambda z: z.amin(0), IndexError, r"amin\(\): Expected reduction dim 0 to have non-zero"),
    (lambda z: z.argmax(), IndexError, r"argmax\(\): Expected reduction dim to be specified"),
    (lambda z: z.argmin(0), IndexError, r"argmin\(\): Expected reduction dim 0"),
    (lambda z: z.norm(math.inf), RuntimeError, r"vector_norm cannot compute the inf norm"),
])
def test_zero_size_errors(call, exc, msg):
    with pytest.raises(exc, match=msg):
        call(rv.zeros(0, 3))


# ---- errors ----

@pytest.mark.parametrize("call,exc,msg", [
    (lambda: rv.tensor([1, 2]).mean(), RuntimeError, r"mean\(\): could not infer output dtype.*Long"),
    (lambda: rv.ones(2).mean(dtype=rv.int32), RuntimeError, r"mean\(\).*Optional dtype.*Int"),
    (lambda: rv.tensor([1, 2]).var(), RuntimeError, r"std and var only support floating point"),
    (lambda: rv.tensor([1, 2]).std(), RuntimeError, r"std and var only support floating point"),
    (lambda: rv.tensor([1, 2]).norm(), RuntimeError, r"vector_norm: Expected a floating point"),
    (lambda: rv.ones(2, 3).sum(2), IndexError, r"sum: dimension out of range"),
    (lambda: rv.ones(2, 3).amax((0, 0)), RuntimeError, r"amax: dim 0 appears multiple times"),
    (lambda: rv.ones(2, 3).cumsum(-3), IndexError, r"cumsum: dimension out of range"),
    (lambda: rv.ones(2, 3).cumsum(), TypeError, r"cumsum"),
    (lambda: rv.ones(2).var(0, correction=1, unbiased=True), RuntimeError, r"var\(\): cannot specify both"),
    (lambda: rv.ones(2).norm("nuc"), NotImplementedError, r"nuclear norm"),
    (lambda: rv.ones(2).norm("xyz"), ValueError, r"unknown norm order"),
    (lambda: rv.ones(2).max(1.5), TypeError, r"max\(\): dim must be an int"),
    (lambda: rv.ones(2, dtype=rv.bool).argmax(), RuntimeError, r"argmax\(\): does not support bool"),
    (lambda: rv.ones(2, dtype=rv.bool).argmin(0), RuntimeError, r"argmin\(\): does not support bool"),
])
def test_errors(call, exc, msg):
    with pytest.raises(exc, match=msg):
        call()


def test_zero_dim_input():
    t = rv.tensor(3.5)
    assert t.sum(0).item() == 3.5 and t.sum(-1, keepdim=True).shape == ()
    assert t.max(0).indices.item() == 0 and t.argmax().item() == 0
    assert t.cumsum(0).item() == 3.5 and t.amax(0).item() == 3.5
    with pytest.raises(IndexError, match="dimension out of range"):
        t.sum(1)


def test_long_reductions_cross_block_boundaries():
    """Inner ranges longer than one block (16384 elements): blocks combine in order."""
    rng = np.random.default_rng(5)
    a = rng.standard_normal((40000, 3))
    t = from_np(a)
    assert_close(t.sum(0), a.sum(0), rtol=1e-10)  # column walk, several blocks
    assert_close(t.t().sum(1), a.sum(0), rtol=1e-10)  # row walk, several blocks
    assert_close(t.sum(), np.array(a.sum()), rtol=1e-10)
    assert_close(t.var(0), a.var(0, ddof=1), rtol=1e-8)
    assert_close(t.norm(2, 0), np.sqrt((a * a).sum(0)), rtol=1e-10)
    i = np.zeros(50000, dtype=np.int64)
    i[[20000, 40000]] = 7  # tie across blocks: the first wins
    assert from_np(i).argmax().item() == 20000
    assert from_np(i).max(0).indices.item() == 20000
    f = np.zeros(50000, dtype=np.float32)
    f[[100, 30000]] = [5.0, np.nan]  # NaN in a later block wins
    assert from_np(f).argmax().item() == 30000 and math.isnan(from_np(f).amax().item())
    assert_close(from_np(a[:, 0]).cumsum(0), np.cumsum(a[:, 0]), rtol=1e-9)


@pytest.mark.parametrize("width", [8, 24, 40, 64, 72, 100, 136, 384])
def test_float_column_sums_accumulate_in_double(width):
    """Column sums of float32 (bias gradients: [rows, width] summed over rows) take a vectorised
    walk of up to 64 columns; every width, full and partial groups of eight, contiguous rows and
    rows further apart, across block boundaries. Each output is the float64 sum of the rows
    rounded once, which a float32 accumulator would miss by far more than the tolerance."""
    rng = np.random.default_rng(width)
    a = (rng.standard_normal((20000, width + 5)) + 3.0).astype(np.float32)
    exact = a.astype(np.float64).sum(0)
    t = from_np(a)
    assert_close(t.sum(0), exact.astype(np.float32), rtol=2e-7, atol=0)
    assert_close(t[:, 2:2 + width].sum(0), exact[2:2 + width].astype(np.float32), rtol=2e-7, atol=0)
    assert_close(t[::3].sum(0, keepdim=True), a[::3].astype(np.float64).sum(0, keepdims=True)
                 .astype(np.float32), rtol=2e-7, atol=0)
    sequential_f32 = np.add.accumulate(a[:, :width], axis=0, dtype=np.float32)[-1]
    assert np.abs(sequential_f32 / exact[:width] - 1).max() > 1e-6  # the tolerance can tell


@pytest.mark.parametrize("length", [1, 31, 32, 33, 1000, 16384, 40001])
def test_float_row_sums_accumulate_in_double(length):
    """Sums of float32 along contiguous rows take a vectorised walk (32 double lanes, then the
    tail), across block boundaries (16384): each output is the float64 sum rounded once, for any
    thread count."""
    rng = np.random.default_rng(length)
    a = (rng.standard_normal((3, length)) + 3.0).astype(np.float32)
    exact = a.astype(np.float64).sum(1)
    t = from_np(a)
    old = rv.get_num_threads()
    try:
        for n in (1, 2, 3):
            rv.set_num_threads(n)
            assert_close(t.sum(1), exact.astype(np.float32), rtol=2e-7, atol=0)
            assert_close(t.mean(1), (exact / length).astype(np.float32), rtol=2e-7, atol=0)
            assert_close(t[1].sum(), np.float32(exact[1]), rtol=2e-7, atol=0)
    finally:
        rv.set_num_threads(old)
    if length >= 1000:
        sequential_f32 = np.add.accumulate(a, axis=1, dtype=np.float32)[:, -1]
        assert np.abs(sequential_f32 / exact - 1).max() > 2e-7  # the tolerance can tell
