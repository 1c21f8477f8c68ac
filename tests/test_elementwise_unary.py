"""Unary elementwise ops, activations and clamp: forward against NumPy (random shapes,
non-contiguous and zero-size inputs, every accepted dtype), gradients against finite
differences, in-place forms, and the errors PyTorch raises."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ranvier
from helpers import assert_close, gradcheck, noncontiguous, rand_np, shapes, to_np


def from_np(a, requires_grad=False):
    """A ranvier copy of a NumPy array (0-d arrays stay 0-d)."""
    t = ranvier.from_numpy(np.array(a, order="C", copy=True)).clone()
    return t.requires_grad_(True) if requires_grad else t

def gradgradcheck(fn, *arrays, eps=1e-6, atol=1e-4, rtol=1e-3):
    """Second derivatives of fn (float64): the analytical Jacobian of the first derivative
    (built with create_graph=True) against central differences of that first derivative."""
    xs = [from_np(np.asarray(a, dtype=np.float64), requires_grad=True) for a in arrays]
    out = fn(*xs)
    go = from_np(np.random.default_rng(0).standard_normal(tuple(out.shape)), requires_grad=True)
    inputs = xs + [go]
    n = len(xs)

    def first(*args):
        grads = ranvier.autograd.grad([fn(*args[:n])], list(args[:n]), [args[n]],
                                      create_graph=True, allow_unused=True)
        return [g for g in grads if g is not None]

    outs = first(*inputs)
    n_out = sum(o.numel() for o in outs)
    analytical = [np.zeros((t.numel(), n_out)) for t in inputs]
    col = 0
    for o in outs:
        for j in range(o.numel()):
            sel = ranvier.zeros_like(o)
            sel.numpy().reshape(-1)[j] = 1.0
            gs = ranvier.autograd.grad([o], inputs, [sel], retain_graph=True, allow_unused=True)
            for k, g in enumerate(gs):
                if g is not None:
                    analytical[k][:, col] = to_np(g).reshape(-1)
            col += 1
    for k, t in enumerate(inputs):
        flat = t.detach().numpy().reshape(-1)  # shares memory with t
        numerical = np.zeros((t.numel(), n_out))
        for i in range(t.numel()):
            orig = float(flat[i])
            flat[i] = orig + eps
            plus = np.concatenate([to_np(o).reshape(-1) for o in first(*inputs)])
            flat[i] = orig - eps
            minus = np.concatenate([to_np(o).reshape(-1) for o in first(*inputs)])
            flat[i] = orig
            numerical[i] = (plus - minus) / (2 * eps)
        np.testing.assert_allclose(analytical[k], numerical, rtol=rtol, atol=atol,
                                   err_msg="second derivative w.r.t. input %d" % k)
    return True


_erf = np.vectorize(math.erf, otypes=[np.float64])
_erfc = np.vectorize(math.erfc, otypes=[np.float64])


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _gelu(x):
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def _gelu_tanh(x):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def _softplus(x, beta=1.0, threshold=20.0):
    return np.where(x * beta > threshold, x, np.log1p(np.exp(x * beta)) / beta)


# name: (reference, low, high). Float-only ops turn integer/bool input into float32.
FLOAT_OPS = {
    "reciprocal": (lambda x: 1.0 / x, 0.5, 3.0),
    "exp": (np.exp, -3, 3),
    "exp2": (np.exp2, -3, 3),
    "expm1": (np.expm1, -3, 3),
    "log": (np.log, 0.1, 5),
    "log1p": (np.log1p, -0.9, 5),
    "log2": (np.log2, 0.1, 5),
    "log10": (np.log10, 0.1, 5),
    "sqrt": (np.sqrt, 0.1, 5),
    "rsqrt": (lambda x: 1.0 / np.sqrt(x), 0.1, 5),
    "sin": (np.sin, -3, 3),
    "cos": (np.cos, -3, 3),
    "tan": (np.tan, -1.2, 1.2),
    "asin": (np.arcsin, -0.9, 0.9),
    "acos": (np.arccos, -0.9, 0.9),
    "atan": (np.arctan, -3, 3),
    "sinh": (np.sinh, -3, 3),
    "cosh": (np.cosh, -3, 3),
    "tanh": (np.tanh, -3, 3),
    "sigmoid": (_sigmoid, -5, 5),
    "erf": (_erf, -2, 2),
    "erfc": (_erfc, -2, 2),
}
# Ops that keep integer dtypes.
KEEP_OPS = {
    "neg": (np.negative, -3, 3),
    "abs": (np.abs, -3, 3),
    "sign": (np.sign, -3, 3),
    "square": (np.square, -3, 3),
    "floor": (np.floor, -3, 3),
    "ceil": (np.ceil, -3, 3),
    "round": (np.round, -3, 3),
    "trunc": (np.trunc, -3, 3),
    "relu": (lambda x: np.maximum(x, 0).astype(x.dtype), -3, 3),
}
# Float-only ops without an integer kernel (NotImplementedError on integers, like PyTorch).
STRICT_FLOAT_OPS = {
    "frac": (lambda x: x - np.trunc(x), -3, 3),
    "gelu": (_gelu, -3, 3),
    "silu": (lambda x: x * _sigmoid(x), -3, 3),
    "softplus": (_softplus, -3, 3),
}
ALL_OPS = {**FLOAT_OPS, **KEEP_OPS, **STRICT_FLOAT_OPS}
INT_DTYPES = [ranvier.int64, ranvier.int32, ranvier.uint8]
NP_INT = {ranvier.int64: np.int64, ranvier.int32: np.int32, ranvier.uint8: np.uint8}


def _input(shape, dtype, low, high, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(low, high, size=shape).astype(dtype)
    if np.issubdtype(dtype, np.floating):
        # keep rounding ops away from ties that float32 -> float64 could move
        x = np.where(np.abs(x - np.round(x)) < 1e-3, x + 0.01, x).astype(dtype)
    return x


@pytest.mark.parametrize("name", sorted(ALL_OPS))
@given(shape=shapes(), contiguous=st.booleans())
def test_float_forward_matches_numpy(name, shape, contiguous):
    ref, low, high = ALL_OPS[name]
    for npdt, rtol, atol in ((np.float32, 1e-5, 1e-6), (np.float64, 1e-12, 1e-12)):
        x = _input(shape, npdt, low, high)
        t = from_np(x)
        if not contiguous:
            t = noncontiguous(t)
        out = getattr(ranvier, name)(t)
        assert_close(out, np.asarray(ref(x.astype(np.float64))).astype(npdt), rtol=rtol,
                     atol=atol)
        assert_close(getattr(t, name)(), np.asarray(ref(x.astype(np.float64))).astype(npdt),
                     rtol=rtol, atol=atol)


@pytest.mark.parametrize("name", sorted(ALL_OPS))
@pytest.mark.parametrize("dtype", [ranvier.float16, ranvier.bfloat16])
def test_reduced_float_computes_in_float32(name, dtype):
    ref, low, high = ALL_OPS[name]
    x = _input((3, 5), np.float32, low, high, seed=1)
    t = from_np(x).to(dtype)
    xr = to_np(t).astype(np.float64)  # the values the op really sees
    out = getattr(ranvier, name)(t)
    assert out.dtype == dtype
    tol = 2e-3 if dtype == ranvier.float16 else 1.6e-2
    np.testing.assert_allclose(to_np(out).astype(np.float64), ref(xr), rtol=tol, atol=tol)


@pytest.mark.parametrize("name", sorted(FLOAT_OPS))
@pytest.mark.parametrize("dtype", INT_DTYPES + [ranvier.bool])
def test_float_ops_promote_integers_to_float32(name, dtype):
    ref, low, high = FLOAT_OPS[name]
    if dtype == ranvier.bool:
        x = np.array([[True, False, True], [False, False, True]])
    else:
        x = np.arange(1, 7).reshape(2, 3).astype(NP_INT[dtype])
    out = getattr(ranvier, name)(from_np(x))
    assert out.dtype == ranvier.float32
    with np.errstate(all="ignore"):
        expected = np.asarray(ref(x.astype(np.float64))).astype(np.float32)
    assert_close(out, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(KEEP_OPS))
@pytest.mark.parametrize("dtype", INT_DTYPES)
@given(shape=shapes(max_side=4))
def test_integer_ops_keep_dtype(name, dtype, shape):
    ref, _, _ = KEEP_OPS[name]
    npdt = NP_INT[dtype]
    x = rand_np(shape, npdt, rng=np.random.default_rng(3), low=-5, high=5)
    out = getattr(ranvier, name)(from_np(x))
    assert out.dtype == dtype
    assert_close(out, np.asarray(ref(x)).astype(npdt))


def test_bool_inputs():
    b = from_np(np.array([True, False, True]))
    assert_close(ranvier.sign(b), np.array([True, False, True]))
    assert_close(ranvier.square(b), np.array([1, 0, 1], dtype=np.int64))
    assert_close(ranvier.logical_not(b), np.array([False, True, False]))
    assert_close(ranvier.bitwise_not(b), np.array([False, True, False]))
    assert_close(~b, np.array([False, True, False]))
    with pytest.raises(RuntimeError, match="neg.*bool"):
        -b
    with pytest.raises(NotImplementedError, match="abs.*Bool"):
        ranvier.abs(b)
    with pytest.raises(RuntimeError, match="Boolean inputs not supported for relu"):
        ranvier.relu(b)
    for op in ("floor", "ceil", "trunc", "round"):
        with pytest.raises(NotImplementedError, match=op):
            getattr(ranvier, op)(b)


@pytest.mark.parametrize("name", sorted(STRICT_FLOAT_OPS))
def test_strict_float_ops_reject_integers(name):
    with pytest.raises(NotImplementedError, match="not implemented for 'Long'"):
        getattr(ranvier, name)(ranvier.tensor([1, 2]))


def test_bitwise_not_integers_and_float_errors():
    x = np.array([0, 5, -7, 100], dtype=np.int64)
    assert_close(~from_np(x), ~x)
    assert_close(ranvier.bitwise_not(from_np(x.astype(np.int32))), ~x.astype(np.int32))
    assert_close(~from_np(np.array([1, 200], dtype=np.uint8)), ~np.array([1, 200], dtype=np.uint8))
    with pytest.raises(TypeError, match="only implemented on integer and Boolean"):
        ~ranvier.tensor([1.0])
    with pytest.raises(NotImplementedError, match="bitwise_not.*Float"):
        ranvier.bitwise_not(ranvier.tensor([1.0]))


@pytest.mark.parametrize("shape", [(0,), (2, 0, 3), (0, 0)])
def test_zero_size(shape):
    t = ranvier.zeros(*shape)
    for name in sorted(ALL_OPS) + ["isnan", "isinf", "isfinite", "logical_not", "nan_to_num"]:
        out = getattr(ranvier, name)(t)
        assert tuple(out.shape) == shape
    out = ranvier.clamp(t, -1, 1)
    assert tuple(out.shape) == shape
    ranvier.exp_(t)


def test_predicates_and_nan_to_num():
    x = np.array([1.0, np.nan, np.inf, -np.inf, -0.0, 3.5], dtype=np.float32)
    t = from_np(x)
    assert_close(ranvier.isnan(t), np.isnan(x))
    assert_close(ranvier.isinf(t), np.isinf(x))
    assert_close(ranvier.isfinite(t), np.isfinite(x))
    assert_close(t.isnan(), np.isnan(x))
    assert_close(ranvier.signbit(t), np.signbit(x))
    assert_close(ranvier.nan_to_num(t), np.nan_to_num(x))
    assert_close(ranvier.nan_to_num(t, nan=1.5, posinf=9.0, neginf=-9.0),
                 np.nan_to_num(x, nan=1.5, posinf=9.0, neginf=-9.0))
    h = from_np(x.astype(np.float16))
    assert_close(ranvier.nan_to_num(h), np.nan_to_num(x.astype(np.float16)))
    bf = ranvier.nan_to_num(t.bfloat16()).float()
    assert to_np(bf)[2] == pytest.approx(3.3895e38, rel=1e-3)
    x64 = x.astype(np.float64)
    assert_close(ranvier.nan_to_num(from_np(x64)), np.nan_to_num(x64))
    i = from_np(np.array([1, 2], dtype=np.int32))
    assert_close(ranvier.isnan(i), np.array([False, False]))
    assert_close(ranvier.isfinite(i), np.array([True, True]))
    assert_close(ranvier.nan_to_num(i), np.array([1, 2], dtype=np.int32))
    u = t.clone()
    v = u._version
    assert u.nan_to_num_() is u
    assert u._version > v
    assert_close(u, np.nan_to_num(x))


def test_round_decimals():
    x = np.array([0.5, 1.5, 2.5, -0.5, 1.2345, -2.675, 123.456], dtype=np.float64)
    t = from_np(x)
    assert_close(ranvier.round(t), np.round(x))
    for d in (1, 2, 3, -1, -2):
        assert_close(ranvier.round(t, decimals=d), np.round(x, d), rtol=1e-12)
        assert_close(t.round(decimals=d), np.round(x, d), rtol=1e-12)
    with pytest.raises(NotImplementedError, match="round.*Long"):
        ranvier.round(ranvier.tensor([1, 2]), decimals=1)
    with pytest.raises(TypeError, match="decimals"):
        ranvier.round(t, decimals=1.5)


def test_gelu_tanh_and_softplus_args():
    x = np.linspace(-4, 4, 17).astype(np.float64)
    t = from_np(x)
    assert_close(ranvier.gelu(t, approximate="tanh"), _gelu_tanh(x), rtol=1e-12)
    assert_close(ranvier.gelu(t, approximate="none"), _gelu(x), rtol=1e-12)
    assert_close(ranvier.softplus(t, beta=2.0, threshold=3.0), _softplus(x, 2.0, 3.0), rtol=1e-12)
    with pytest.raises(RuntimeError, match="approximate argument must be either none or tanh"):
        ranvier.gelu(t, approximate="bad")
    with pytest.raises(TypeError, match="approximate"):
        ranvier.gelu(t, approximate=None)
    with pytest.raises(TypeError, match="beta"):
        ranvier.softplus(t, beta="x")


# ---- clamp ----

@given(shape=shapes(), lo=st.one_of(st.none(), st.floats(-2, 0)), hi=st.one_of(st.none(), st.floats(0, 2)))
def test_clamp_numbers(shape, lo, hi):
    x = rand_np(shape, np.float32, rng=np.random.default_rng(5), low=-3, high=3)
    t = noncontiguous(from_np(x))
    if lo is None and hi is None:
        with pytest.raises(RuntimeError, match="At least one of 'min' or 'max'"):
            ranvier.clamp(t)
        return
    expected = np.clip(x, -np.inf if lo is None else lo, np.inf if hi is None else hi)
    assert_close(ranvier.clamp(t, lo, hi), expected.astype(np.float32))
    assert_close(t.clip(min=lo, max=hi), expected.astype(np.float32))


def test_clamp_dtypes_and_tensor_bounds():
    i = from_np(np.array([2, 3, -7]))
    out = ranvier.clamp(i, 0.5)
    assert out.dtype == ranvier.float32
    assert_close(out, np.array([2.0, 3.0, 0.5], dtype=np.float32))
    assert_close(ranvier.clamp(i, min=0, max=2), np.array([2, 2, 0]))
    b = from_np(np.array([True, False]))
    assert_close(ranvier.clamp(b, 0, 1), np.array([1, 0]))
    # min > max gives max everywhere
    x = np.array([-1.0, 0.5, 3.0], dtype=np.float32)
    assert_close(ranvier.clamp(from_np(x), 2, 1), np.array([1.0, 1.0, 1.0], dtype=np.float32))
    # tensor bounds, broadcast
    rng = np.random.default_rng(0)
    x = rng.uniform(-3, 3, (4, 5)).astype(np.float32)
    lo = rng.uniform(-1, 0, (5,)).astype(np.float32)
    hi = rng.uniform(0, 1, (4, 1)).astype(np.float32)
    assert_close(ranvier.clamp(from_np(x), from_np(lo), from_np(hi)), np.minimum(np.maximum(x, lo), hi))
    assert_close(ranvier.clamp(from_np(x), min=from_np(lo)), np.maximum(x, lo))
    assert_close(ranvier.clamp(from_np(x), max=from_np(hi)), np.minimum(x, hi))
    assert_close(ranvier.clamp(from_np(x), from_np(lo), 0.5), np.minimum(np.maximum(x, lo), 0.5))
    out = ranvier.clamp(i, min=from_np(np.zeros(3, dtype=np.float32)))
    assert out.dtype == ranvier.float32
    with pytest.raises(RuntimeError, match="broadcast"):
        ranvier.clamp(from_np(x), from_np(np.zeros(3, np.float32)))
    with pytest.raises(TypeError, match="number"):
        ranvier.clamp(from_np(x), "a")
    # in place
    t = from_np(x.copy())
    v = t._version
    assert t.clamp_(-1, 1) is t
    assert t._version > v
    assert_close(t, np.clip(x, -1, 1))
    t = from_np(x.copy())
    t.clamp_(from_np(lo), from_np(hi))
    assert_close(t, np.minimum(np.maximum(x, lo), hi))
    with pytest.raises(RuntimeError, match="can't be cast"):
        from_np(np.array([1, 2])).clamp_(0.5, 1.5)


# ---- gradients ----

GRAD_OPS = {name: ALL_OPS[name] for name in ALL_OPS if name not in ("sign", "floor", "ceil", "round", "trunc")}


@pytest.mark.parametrize("name", sorted(GRAD_OPS))
def test_gradcheck(name):
    _, low, high = GRAD_OPS[name]
    x = _input((2, 3), np.float64, low, high, seed=7)
    if name in ("abs", "relu"):
        x = np.where(np.abs(x) < 0.1, 0.5, x)  # away from the kink
    assert gradcheck(getattr(ranvier, name), x)


def test_gradcheck_parametrised():
    x = np.linspace(-2.3, 2.1, 6).reshape(2, 3)
    assert gradcheck(lambda t: ranvier.gelu(t, approximate="tanh"), x)
    assert gradcheck(lambda t: ranvier.softplus(t, beta=2.0, threshold=1.5), x)
    assert gradcheck(lambda t: ranvier.clamp(t, -1.0, 1.0), x)
    assert gradcheck(lambda t: ranvier.clamp(t, min=-0.5), x)
    assert gradcheck(lambda t: ranvier.nan_to_num(t), x)
    lo = np.full((3,), -1.0)
    hi = np.array([[0.5], [1.5]])
    assert gradcheck(lambda t, a, b: ranvier.clamp(t, a, b), x, lo, hi)
    assert gradcheck(lambda t, a: ranvier.clamp(t, min=a), x, lo + 0.3)


@pytest.mark.parametrize("name", ["exp", "log", "tanh", "sigmoid", "sqrt", "sin", "gelu", "silu",
                                  "reciprocal", "asin"])
def test_gradgradcheck(name):
    _, low, high = ALL_OPS[name]
    x = _input((3,), np.float64, low, high, seed=11)
    assert gradgradcheck(getattr(ranvier, name), x)


def test_gradgradcheck_clamp():
    x = np.array([-2.0, -0.3, 0.4, 1.7])
    assert gradgradcheck(lambda t: ranvier.clamp(t, -1.0, 1.0) * t, x)


@pytest.mark.parametrize("name", ["sign", "floor", "ceil", "round", "trunc"])
def test_piecewise_constant_ops_have_zero_grad(name):
    x = from_np(np.array([1.3, -2.6, 0.2]), requires_grad=True)
    y = getattr(ranvier, name)(x)
    assert y.requires_grad
    y.sum().backward()
    assert_close(x.grad, np.zeros(3))


def test_predicates_do_not_require_grad():
    x = from_np(np.array([1.0, 2.0]), requires_grad=True)
    assert not ranvier.isnan(x).requires_grad
    assert not ranvier.logical_not(x).requires_grad


# ---- in-place ----

INPLACE_OPS = sorted(n for n in ALL_OPS if n not in ("gelu", "softplus"))


@pytest.mark.parametrize("name", INPLACE_OPS)
def test_inplace_matches_out_of_place(name):
    _, low, high = ALL_OPS[name]
    x = _input((3, 4), np.float32, low, high, seed=2)
    expected = to_np(getattr(ranvier, name)(from_np(x)))
    t = from_np(x)
    v = t._version
    r = getattr(t, name + "_")()
    assert r is t
    assert t._version > v
    assert_close(t, expected)
    if hasattr(ranvier, name + "_"):
        t2 = from_np(x)
        getattr(ranvier, name + "_")(t2)
        assert_close(t2, expected)
    # through a non-contiguous view: only the view's elements change
    base = ranvier.zeros(3, 8)
    view = base.as_strided((3, 4), (8, 2), 0)
    view.copy_(from_np(x))
    getattr(view, name + "_")()
    assert_close(view, expected)
    assert_close(base.as_strided((3, 4), (8, 2), 1), np.zeros((3, 4), np.float32))


def test_inplace_on_leaf_requiring_grad_raises():
    x = ranvier.tensor([1.0, 2.0], requires_grad=True)
    for name in ("exp_", "relu_", "neg_", "sigmoid_", "floor_", "clamp_"):
        with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
            getattr(x, name)(*([0.0] if name == "clamp_" else []))


def test_inplace_with_autograd_gives_correct_grad():
    x = from_np(np.array([0.3, -0.7, 1.2]), requires_grad=True)
    y = x * 2
    y.tanh_()
    y.sum().backward()
    expected = 2 * (1 - np.tanh(2 * np.array([0.3, -0.7, 1.2])) ** 2)
    assert_close(x.grad, expected, rtol=1e-10)
    x.grad = None
    y = x * 1
    y.clamp_(-0.5, 0.5)
    y.sum().backward()
    assert_close(x.grad, np.array([1.0, 0.0, 0.0]))


def test_inplace_integer_to_float_result_raises():
    i = ranvier.tensor([1, 2, 3])
    with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired output type Long"):
        i.exp_()
    with pytest.raises(RuntimeError, match="can't be cast"):
        i.sqrt_()
    j = i.clone()
    j.neg_()
    assert_close(j, np.array([-1, -2, -3]))


def test_wrong_argument_types():
    with pytest.raises(TypeError):
        ranvier.exp("a")
    with pytest.raises(TypeError):
        ranvier.exp(None)
    with pytest.raises(TypeError):
        ranvier.tensor([1.0]).exp(2)
    with pytest.raises(TypeError):
        ranvier.nan_to_num(ranvier.tensor([1.0]), nan="x")
