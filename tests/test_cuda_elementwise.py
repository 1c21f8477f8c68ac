"""CUDA elementwise kernels against the CPU ones (skipped without a usable GPU): every binary,
unary and ternary op for every dtype the CPU takes (the same errors where the CPU refuses),
broadcasting, non-contiguous and zero-size operands, a 0-d CPU operand, in-place forms, and
gelu's fused backward."""
import operator

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ranvier
from helpers import (NP_DTYPES, broadcastable_pair, from_np, host_np as host,
                     noncontiguous as nc, rand_np)

pytestmark = pytest.mark.skipif(not ranvier.cuda.is_available(), reason="no CUDA device")

ALL_DTYPES = [ranvier.float32, ranvier.float64, ranvier.float16, ranvier.bfloat16,
              ranvier.int64, ranvier.int32, ranvier.uint8, ranvier.bool]


def make(shape, dtype, seed=0, low=-3.0, nonzero=False):
    a = rand_np(shape, NP_DTYPES.get(dtype, np.float32), rng=np.random.default_rng(seed), low=low)
    if nonzero and a.dtype != np.bool_:
        a = np.where(a == 0, a.dtype.type(1), a)
    return from_np(a).to(dtype)


def tol(dtype):
    return {ranvier.float16: 2e-3, ranvier.bfloat16: 1e-2, ranvier.float32: 2e-5}.get(dtype, 1e-12)


def same(cpu_fn, *tensors, cuda_fn=None):
    """Runs the op on CPU tensors and on their CUDA copies; the same result or the same error."""
    cuda_fn = cuda_fn or cpu_fn
    try:
        exp = cpu_fn(*tensors)
    except Exception as e:  # the CUDA op must refuse the same way
        with pytest.raises(type(e)):
            cuda_fn(*[t.cuda() if isinstance(t, ranvier.Tensor) else t for t in tensors])
        return None
    got = cuda_fn(*[t.cuda() if isinstance(t, ranvier.Tensor) else t for t in tensors])
    assert got.device.type == "cuda"
    assert got.dtype == exp.dtype and tuple(got.shape) == tuple(exp.shape)
    e, g = host(exp), host(got)
    if e.dtype == np.bool_ or np.issubdtype(e.dtype, np.integer):
        np.testing.assert_array_equal(g, e)
    else:
        r = tol(exp.dtype)
        np.testing.assert_allclose(g, e, rtol=r, atol=r, equal_nan=True)
    return got


BINARY = ["add", "sub", "mul", "div", "floor_divide", "remainder", "fmod", "pow", "minimum",
          "maximum", "atan2", "eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or",
          "logical_xor", "bitwise_and", "bitwise_or", "bitwise_xor"]
NONZERO_RHS = {"div", "floor_divide", "remainder", "fmod"}


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
@pytest.mark.parametrize("name", BINARY)
def test_binary_every_dtype(name, dtype):
    fn = getattr(ranvier, name)
    low = 0.0 if name == "pow" else -3.0
    a = make((5, 7), dtype, seed=1, low=low)
    b = make((5, 7), dtype, seed=2, low=low, nonzero=name in NONZERO_RHS)
    if name == "pow" and dtype not in (ranvier.bool,):
        b = make((5, 7), dtype, seed=2, low=0.0)
    same(fn, a, b)


@settings(max_examples=15, deadline=None)
@given(pair=broadcastable_pair(), name=st.sampled_from(["add", "mul", "sub", "maximum", "lt",
                                                       "remainder", "bitwise_xor"]),
       dtype=st.sampled_from([ranvier.float32, ranvier.int64, ranvier.int32, ranvier.uint8]))
def test_binary_broadcast_noncontiguous(pair, name, dtype):
    if name == "bitwise_xor" and dtype == ranvier.float32:
        dtype = ranvier.int64
    a = make(pair[0], dtype, seed=3)
    b = make(pair[1], dtype, seed=4, nonzero=True)
    fn = getattr(ranvier, name)
    same(fn, a, b)
    same(lambda x, y: fn(nc(x), nc(y)), a, b)


def test_binary_zero_size_scalars_and_inplace():
    for dtype in (ranvier.float32, ranvier.int32, ranvier.bool):
        z = make((0, 3), dtype)
        same(ranvier.add, z, make((1, 3), dtype))
    a = make((4, 5), ranvier.int64, seed=5)
    same(lambda x: x * 3 - 7, a)
    same(lambda x: x // 2, a)
    same(lambda x: x / 2, a)  # true division of ints gives float32
    same(lambda x: ranvier.tensor(2) * x, a)  # a 0-d CPU operand joins a CUDA op
    same(lambda x: x < ranvier.tensor(1), a)
    same(lambda x: ranvier.tensor(5.5) - x, make((3,), ranvier.float32))
    for dtype in (ranvier.float32, ranvier.int32, ranvier.uint8):
        def inplace(x, y):
            x = x.clone()
            x.add_(y)
            x.mul_(y)
            return x
        same(inplace, make((3, 4), dtype, seed=6), make((4,), dtype, seed=7))


UNARY = ["neg", "abs", "sign", "reciprocal", "square", "exp", "exp2", "expm1", "log", "log1p",
         "log2", "log10", "sqrt", "rsqrt", "sin", "cos", "tan", "asin", "acos", "atan", "sinh",
         "cosh", "tanh", "sigmoid", "erf", "erfc", "floor", "ceil", "trunc", "frac",
         "logical_not", "bitwise_not", "round", "isnan", "isinf", "isfinite", "signbit",
         "nan_to_num", "relu"]


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
@pytest.mark.parametrize("name", UNARY)
def test_unary_every_dtype(name, dtype):
    fn = getattr(ranvier, name)
    a = make((6, 5), dtype, seed=8)
    if dtype.is_floating_point:
        a[0, 0] = float("nan")
        a[0, 1] = float("inf")
        a[0, 2] = -float("inf")
    same(fn, a)
    same(lambda x: fn(nc(x)), a)
    same(fn, make((0, 4), dtype))


def test_unary_parametrised_and_activations():
    x = make((7, 9), ranvier.float32, seed=9, low=-4.0)
    same(lambda t: ranvier.round(t * 100, decimals=2), x)
    same(lambda t: ranvier.round(t * 100, decimals=-1), x)
    same(lambda t: t.pow(3), x)
    same(lambda t: t.pow(2.5), x.abs())
    same(lambda t: t.clamp(-1, 0.5), x)
    same(lambda t: ranvier.nan_to_num(t / 0, nan=1.0, posinf=2.0, neginf=-2.0), x)
    F = ranvier.nn.functional
    for f in (F.relu, F.silu, F.softplus, F.logsigmoid, F.gelu,
              lambda t: F.gelu(t, approximate="tanh"), F.elu, F.leaky_relu, F.hardtanh,
              F.mish, F.softsign, F.hardsigmoid, F.hardswish):
        same(f, x)
        same(f, x.double())
    i = make((4, 4), ranvier.int32, seed=10)
    same(lambda t: t.pow(3), i)
    same(lambda t: t.clamp(-1, 3), i)
    same(lambda t: t.clamp(min=0.5), i)


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
def test_ternary_every_dtype(dtype):
    c = make((4, 6), ranvier.bool, seed=11)
    a, b = make((4, 6), dtype, seed=12), make((1, 6), dtype, seed=13)
    same(ranvier.where, c, a, b)
    same(lambda cc, x, y: ranvier.where(nc(cc), nc(x), y), c, a, b)
    w = make((4, 6), dtype, seed=14, low=0.0)
    same(ranvier.lerp, a, make((4, 6), dtype, seed=15), w)
    same(lambda x, y, z: ranvier.clamp(x, y, z), a, b, make((4, 1), dtype, seed=16))
    same(lambda x, y, z: ranvier.addcmul(x, y, z, value=2), a, b, w)
    same(lambda x, y, z: ranvier.addcdiv(x, y, z, value=0.5), a, b,
         make((4, 6), dtype, seed=17, nonzero=True))
    same(ranvier.where, make((0, 6), ranvier.bool), make((0, 6), dtype), b)


def test_where_with_cpu_scalar():
    c = make((5,), ranvier.bool, seed=18)
    a = make((5,), ranvier.float32, seed=19)
    same(lambda cc, x: ranvier.where(cc, x, ranvier.tensor(0.0)), c, a)


@pytest.mark.parametrize("dtype", [ranvier.float32, ranvier.float64], ids=str)
@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_fused_backward(dtype, approximate):
    a = rand_np((33, 17), NP_DTYPES[dtype], rng=np.random.default_rng(20), low=-5, high=5)
    g = rand_np((33, 17), NP_DTYPES[dtype], rng=np.random.default_rng(21))
    grads = []
    for dev in ("cpu", "cuda"):
        x = from_np(a).to(dev).requires_grad_(True)
        y = ranvier.nn.functional.gelu(x, approximate=approximate)
        y.backward(from_np(g).to(dev))
        grads.append((host(y), host(x.grad)))
    r = tol(dtype)
    np.testing.assert_allclose(grads[1][0], grads[0][0], rtol=r, atol=r)
    np.testing.assert_allclose(grads[1][1], grads[0][1], rtol=r, atol=r)


REDUCED = [ranvier.float16, ranvier.bfloat16]


@pytest.mark.parametrize("dtype", REDUCED, ids=str)
def test_16_bit_operands_mixed_with_float32(dtype):
    """16-bit operands reach the CUDA kernels as they are (Note [16-bit operands]) and compute in
    float32: +, -, *, / of a 16-bit value and a float32 one, rounded once, equal the CPU's
    float32 copies bit for bit, whatever the layout."""
    a = make((6, 8), dtype, seed=30)
    f = make((6, 8), ranvier.float32, seed=31, nonzero=True)
    row = make((8,), ranvier.float32, seed=32, nonzero=True)
    other = ranvier.bfloat16 if dtype == ranvier.float16 else ranvier.float16
    o = make((6, 8), other, seed=33, nonzero=True)
    for fn in (operator.add, operator.sub, operator.mul, operator.truediv):
        for x, y in ((a, f), (f, a), (a, row), (nc(a), nc(f)), (a, o), (a, o.t().t())):
            exp = fn(x, y)
            got = fn(x.cuda(), y.cuda())
            assert got.dtype == exp.dtype and got.device.type == "cuda"
            np.testing.assert_array_equal(host(got), host(exp))
        for y in (ranvier.tensor(1.7), ranvier.tensor(1.7).to(dtype), 2.5, 3):
            np.testing.assert_array_equal(host(fn(a.cuda(), y)), host(fn(a, y)))
            np.testing.assert_array_equal(host(fn(y, a.cuda())), host(fn(y, a)))
    same(lambda x, y: x < y, a, f)
    same(lambda x, y: ranvier.maximum(nc(x), y), a, make((6, 8), dtype, seed=34))
    same(lambda x, y, z: ranvier.lerp(x, y, z), a, make((6, 8), dtype, seed=35),
         make((6, 8), dtype, seed=36, low=0.0))
    same(lambda x, y, z: ranvier.addcmul(x, y, z, value=0.5), a, make((1, 8), dtype, seed=37),
         make((6, 1), dtype, seed=38))


@pytest.mark.parametrize("dtype", REDUCED, ids=str)
def test_16_bit_in_place(dtype):
    """In-place ops on a 16-bit tensor write it directly, with float32 math."""
    def inplace(x, y, z):
        x = x.clone()
        x.add_(y)
        x.mul_(z)
        x.sub_(2)
        x.exp_()
        x.clamp_(max=z)
        return x
    y = make((3, 5), ranvier.float32, seed=40)
    z = make((5,), dtype, seed=41)
    base = make((3, 5), dtype, seed=39, low=-1.0)
    same(inplace, base, y, z)
    same(lambda x, yy, zz: inplace(nc(x), yy, zz), base, y, z)


@pytest.mark.parametrize("dtype", REDUCED, ids=str)
@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_16_bit_fused(dtype, approximate):
    """gelu and its fused backward on 16-bit tensors against float64 NumPy on the rounded
    inputs: each result is the exact value rounded once (within one 16-bit step)."""
    from math import erf
    x = make((33, 17), dtype, seed=42, low=-5.0)
    g = make((33, 17), dtype, seed=43)
    xd, gd = host(x.double()), host(g.double())
    if approximate == "none":
        cdf = 0.5 * (1 + np.vectorize(erf)(xd / np.sqrt(2)))
        pdf = np.exp(-0.5 * xd * xd) / np.sqrt(2 * np.pi)
        y_ref, d_ref = xd * cdf, cdf + xd * pdf
    else:
        k = np.sqrt(2 / np.pi)
        th = np.tanh(k * (xd + 0.044715 * xd ** 3))
        y_ref = 0.5 * xd * (1 + th)
        d_ref = 0.5 * (1 + th) + 0.5 * xd * (1 - th * th) * k * (1 + 3 * 0.044715 * xd * xd)
    xc = x.cuda().requires_grad_(True)
    y = ranvier.nn.functional.gelu(xc, approximate=approximate)
    y.backward(g.cuda())
    assert y.dtype == dtype and xc.grad.dtype == dtype
    step = 2.0 ** -7 if dtype == ranvier.bfloat16 else 2.0 ** -10
    for got, ref in ((host(y.double()), y_ref), (host(xc.grad.double()), gd * d_ref)):
        np.testing.assert_allclose(got, ref, rtol=step, atol=1e-6)
