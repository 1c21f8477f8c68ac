"""Activation functions and modules against NumPy formulas, gradcheck, inplace variants and
argument errors."""
import math

import numpy as np
import pytest

import ranvier as rv
import ranvier.nn as nn
import ranvier.nn.functional as F
from helpers import assert_close, from_np, gradcheck, gradgradcheck, noncontiguous, to_np

SELU_A = 1.6732632423543772848170429916717
SELU_S = 1.0507009873554804934193349852946


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _softplus(x, beta=1.0, threshold=20.0):
    return np.where(x * beta > threshold, x, np.log1p(np.exp(beta * x)) / beta)


def _erf(x):
    return np.vectorize(math.erf)(x)


# name -> (functional call, numpy reference)
CASES = {
    "relu": (F.relu, lambda x: np.maximum(x, 0)),
    "relu6": (F.relu6, lambda x: np.clip(x, 0, 6)),
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.2), lambda x: np.where(x > 0, x, 0.2 * x)),
    "elu": (lambda x: F.elu(x, 1.5), lambda x: np.where(x > 0, x, 1.5 * np.expm1(x))),
    "selu": (F.selu, lambda x: SELU_S * np.where(x > 0, x, SELU_A * np.expm1(x))),
    "celu": (lambda x: F.celu(x, 0.7), lambda x: np.where(x > 0, x, 0.7 * np.expm1(x / 0.7))),
    "gelu": (F.gelu, lambda x: 0.5 * x * (1 + _erf(x / math.sqrt(2)))),
    "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"),
                  lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) *
                                                   (x + 0.044715 * x ** 3)))),
    "silu": (F.silu, lambda x: x * _sigmoid(x)),
    "mish": (F.mish, lambda x: x * np.tanh(_softplus(x))),
    "sigmoid": (F.sigmoid, _sigmoid),
    "tanh": (F.tanh, np.tanh),
    "hardtanh": (lambda x: F.hardtanh(x, -0.5, 1.5), lambda x: np.clip(x, -0.5, 1.5)),
    "hardsigmoid": (F.hardsigmoid, lambda x: np.clip(x + 3, 0, 6) / 6),
    "hardswish": (F.hardswish, lambda x: x * np.clip(x + 3, 0, 6) / 6),
    "softplus": (lambda x: F.softplus(x, 2.0, 3.0), lambda x: _softplus(x, 2.0, 3.0)),
    "softsign": (F.softsign, lambda x: x / (1 + np.abs(x))),
    "tanhshrink": (F.tanhshrink, lambda x: x - np.tanh(x)),
    "logsigmoid": (F.logsigmoid, lambda x: -np.logaddexp(0, -x)),
    "threshold": (lambda x: F.threshold(x, 0.3, -2.0), lambda x: np.where(x > 0.3, x, -2.0)),
    "softshrink": (lambda x: F.softshrink(x, 0.4),
                   lambda x: np.where(x > 0.4, x - 0.4, np.where(x < -0.4, x + 0.4, 0))),
    "hardshrink": (lambda x: F.hardshrink(x, 0.4), lambda x: np.where(np.abs(x) > 0.4, x, 0)),
}

# points away from the kinks (0, +-0.3, +-0.4, +-3, +-6, ...) so finite differences are valid
_X = np.array([[-7.1, -4.2, -2.55, -1.3, -0.71, -0.17], [0.13, 0.62, 1.17, 2.45, 4.1, 8.3]])


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_forward_matches_numpy(name, dtype, device):
    fn, ref = CASES[name]
    x = _X.astype(dtype)
    tol = 1e-5 if dtype == np.float32 else 1e-10
    assert_close(fn(from_np(x, device)), ref(x.astype(np.float64)).astype(dtype), rtol=tol,
                 atol=tol)
    assert_close(fn(noncontiguous(from_np(x, device))), ref(x.astype(np.float64)).astype(dtype),
                 rtol=tol, atol=tol)
    assert tuple(fn(rv.zeros(0, 3, dtype=rv.float32, device=device)).shape) == (0, 3)


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradcheck(name):
    fn, _ = CASES[name]
    assert gradcheck(fn, _X)


@pytest.mark.parametrize("name", ["elu", "selu", "celu", "mish", "softsign", "logsigmoid",
                                  "leaky_relu", "hardswish", "tanhshrink", "softshrink"])
def test_gradgradcheck(name):
    fn, _ = CASES[name]
    assert gradgradcheck(fn, _X)


def test_extreme_inputs_stay_finite():
    x = from_np(np.array([-200.0, -50.0, 50.0, 200.0], np.float32), requires_grad=True)
    for fn in (F.elu, F.selu, F.celu, F.logsigmoid, F.mish, F.silu):
        y = fn(x)
        (g,) = rv.autograd.grad(y.sum(), x)
        assert np.isfinite(to_np(y)).all() and np.isfinite(to_np(g)).all(), fn


def test_prelu_per_channel_and_gradcheck():
    x = np.random.default_rng(0).standard_normal((2, 3, 4))
    w = np.array([0.1, 0.2, 0.3])
    out = F.prelu(from_np(x), from_np(w))
    assert_close(out, np.where(x > 0, x, w[None, :, None] * x), rtol=1e-12)
    assert gradcheck(lambda a, b: F.prelu(a, b), x, w)
    m = nn.PReLU(3)
    assert_close(m.weight, np.full(3, 0.25, np.float32))
    assert [n for n, _ in m.named_parameters()] == ["weight"]
    assert tuple(nn.PReLU()(rv.randn(2, 5)).shape) == (2, 5)
    with pytest.raises(RuntimeError, match="prelu"):
        F.prelu(rv.zeros(2, 4), rv.zeros(3))


def test_glu():
    x = np.random.default_rng(1).standard_normal((2, 6))
    a, b = x[:, :3], x[:, 3:]
    assert_close(F.glu(from_np(x)), a * (1 / (1 + np.exp(-b))), rtol=1e-12)
    assert tuple(nn.GLU(0)(rv.zeros(4, 3)).shape) == (2, 3)
    assert gradcheck(lambda t: F.glu(t, 1), x)
    with pytest.raises(RuntimeError, match="Halving dimension must be even"):
        F.glu(rv.zeros(2, 5))


def test_inplace_variants_modify_input():
    x = from_np(_X.astype(np.float32))
    for mod, ref in [(nn.ReLU(inplace=True), np.maximum(_X, 0)),
                     (nn.ELU(inplace=True), np.where(_X > 0, _X, np.expm1(_X))),
                     (nn.LeakyReLU(0.1, inplace=True), np.where(_X > 0, _X, 0.1 * _X)),
                     (nn.Hardtanh(inplace=True), np.clip(_X, -1, 1)),
                     (nn.SiLU(inplace=True), _X * (1 / (1 + np.exp(-_X))))]:
        t = x.clone()
        out = mod(t)
        assert out is t or out.data_ptr() == t.data_ptr()
        assert_close(t, ref.astype(np.float32), rtol=1e-5, atol=1e-6)


def test_inplace_with_autograd_gives_right_gradient():
    a = from_np(_X, requires_grad=True)
    b = a * 1.0
    F.elu(b, inplace=True)
    b.sum().backward()
    assert_close(a.grad, np.where(_X > 0, 1.0, np.exp(_X)), rtol=1e-10)


def test_modules_and_reprs():
    x = from_np(_X.astype(np.float32))
    assert_close(nn.GELU("tanh")(x), to_np(F.gelu(x, approximate="tanh")))
    assert_close(nn.Softplus(beta=2)(x), to_np(F.softplus(x, 2.0)))
    assert_close(nn.Threshold(0.1, 20)(x), np.where(_X > 0.1, _X, 20).astype(np.float32))
    assert_close(nn.Hardshrink(0.5)(x), np.where(np.abs(_X) > 0.5, _X, 0).astype(np.float32))
    assert repr(nn.ReLU()) == "ReLU()"
    assert repr(nn.ReLU(inplace=True)) == "ReLU(inplace=True)"
    assert repr(nn.LeakyReLU(0.2)) == "LeakyReLU(negative_slope=0.2)"
    assert repr(nn.ELU()) == "ELU(alpha=1.0)"
    assert repr(nn.GELU()) == "GELU(approximate='none')"
    assert repr(nn.Hardtanh()) == "Hardtanh(min_val=-1.0, max_val=1.0)"
    assert repr(nn.Softshrink()) == "Softshrink(0.5)"
    assert repr(nn.PReLU()) == "PReLU(num_parameters=1)"
    for cls in (nn.ReLU6, nn.SELU, nn.CELU, nn.Mish, nn.Sigmoid, nn.Tanh, nn.Hardsigmoid,
                nn.Hardswish, nn.Softsign, nn.Tanhshrink, nn.LogSigmoid):
        assert tuple(cls()(x).shape) == tuple(x.shape)


def test_argument_errors():
    with pytest.raises(ValueError, match="hardtanh"):
        F.hardtanh(rv.zeros(2), 1.0, -1.0)
    with pytest.raises(RuntimeError, match="softshrink: lambda must be greater or equal to 0"):
        F.softshrink(rv.zeros(2), -1.0)
    with pytest.raises(RuntimeError, match="gelu: approximate"):
        F.gelu(rv.zeros(2), approximate="cubic")


@pytest.mark.parametrize("dtype", [rv.float16, rv.bfloat16])
def test_half_precision_keeps_dtype(dtype):
    x32 = from_np(_X.astype(np.float32))
    x = x32.to(dtype)
    xr = to_np(x).astype(np.float64)  # the rounded inputs
    for name, (fn, ref) in CASES.items():
        y = fn(x)
        assert y.dtype == dtype, name
        np.testing.assert_allclose(to_np(y).astype(np.float64), ref(xr), rtol=2e-2, atol=2e-2,
                                   err_msg=name)


def test_modules_match_torch():
    torch = pytest.importorskip("torch")
    pairs = [(nn.ReLU(), torch.nn.ReLU()), (nn.ReLU6(), torch.nn.ReLU6()),
             (nn.LeakyReLU(0.3), torch.nn.LeakyReLU(0.3)), (nn.ELU(0.5), torch.nn.ELU(0.5)),
             (nn.SELU(), torch.nn.SELU()), (nn.CELU(1.3), torch.nn.CELU(1.3)),
             (nn.GELU(), torch.nn.GELU()), (nn.GELU("tanh"), torch.nn.GELU("tanh")),
             (nn.SiLU(), torch.nn.SiLU()), (nn.Mish(), torch.nn.Mish()),
             (nn.Hardtanh(-2, 3), torch.nn.Hardtanh(-2, 3)),
             (nn.Hardsigmoid(), torch.nn.Hardsigmoid()), (nn.Hardswish(), torch.nn.Hardswish()),
             (nn.Softplus(2, 5), torch.nn.Softplus(2, 5)), (nn.Softsign(), torch.nn.Softsign()),
             (nn.Tanhshrink(), torch.nn.Tanhshrink()), (nn.LogSigmoid(), torch.nn.LogSigmoid()),
             (nn.GLU(), torch.nn.GLU()), (nn.Threshold(0.2, -1), torch.nn.Threshold(0.2, -1)),
             (nn.Softshrink(0.3), torch.nn.Softshrink(0.3)),
             (nn.Hardshrink(0.3), torch.nn.Hardshrink(0.3)), (nn.PReLU(), torch.nn.PReLU())]
    x = _X.astype(np.float32)
    for r, t in pairs:
        assert repr(r) == repr(t).replace("torch", "ranvier"), (repr(r), repr(t))
        expect = t(torch.from_numpy(x)).detach().numpy()
        assert_close(r(from_np(x)), expect, rtol=1e-5, atol=1e-6)


def test_leaky_relu_one_pass_edges_and_integer_error():
    x = np.array([np.nan, np.inf, -np.inf, -0.0, 0.0, -3.0, 2.0], np.float32)
    y = to_np(F.leaky_relu(from_np(x), 0.25))
    np.testing.assert_array_equal(y[1:], np.array([np.inf, -np.inf, -0.0, 0.0, -0.75, 2.0],
                                                  np.float32))
    assert np.isnan(y[0]) and np.signbit(y[3]) and not np.signbit(y[4])
    with pytest.raises(NotImplementedError, match="leaky_relu"):
        F.leaky_relu(rv.tensor([1, -2, 3]))
