"""nn.utils.weight_norm / spectral_norm (hook form), nn.utils.parametrize and
nn.utils.parametrizations.weight_norm / spectral_norm: values against NumPy, power iteration
steps, gradients (finite differences), state_dict keys, removal and errors."""
import numpy as np
import pytest

import ranvier
import ranvier.nn as nn
from ranvier.nn.utils import (parametrizations, parametrize, remove_spectral_norm,
                              remove_weight_norm, spectral_norm, weight_norm)
from helpers import assert_close, from_np, rand_np, to_np


def np_norm_except(v, dim):
    if dim is None or dim == -1:
        return np.sqrt((v * v).sum())
    axes = tuple(i for i in range(v.ndim) if i != dim)
    return np.sqrt((v * v).sum(axis=axes, keepdims=True))


def _normalize(x, eps=1e-12):
    return x / max(np.linalg.norm(x), eps)


# -- weight_norm (hook form) --------------------------------------------------------------------
@pytest.mark.parametrize("dim", [0, 1, None, -2])
def test_weight_norm_values_and_keys(dim):
    ranvier.manual_seed(0)
    m = nn.Linear(3, 4).double()
    w0 = to_np(m.weight)
    weight_norm(m, dim=dim)
    d = None if dim is None else dim % 2
    assert list(m.state_dict().keys()) == ["bias", "weight_g", "weight_v"]
    assert_close(m.weight_g, np_norm_except(w0, d), rtol=1e-12, atol=1e-12)
    assert_close(m.weight_v, w0, rtol=0, atol=0)
    x = rand_np((2, 3), np.float64)
    assert_close(m(from_np(x)), x @ w0.T + to_np(m.bias), rtol=1e-10, atol=1e-12)
    with ranvier.no_grad():
        m.weight_g.mul_(2.0)
    y = m(from_np(x))
    assert_close(y, x @ (2 * w0).T + to_np(m.bias), rtol=1e-10, atol=1e-12)
    y.sum().backward()
    assert m.weight_g.grad is not None and m.weight_v.grad is not None
    remove_weight_norm(m)
    assert list(m.state_dict().keys()) == ["bias", "weight"]
    assert isinstance(m.weight, nn.Parameter)
    assert_close(m.weight, 2 * w0, rtol=1e-12, atol=1e-12)


def test_weight_norm_gradients_finite_difference():
    rng = np.random.default_rng(1)
    m = nn.Conv1d(2, 3, 2).double()
    weight_norm(m, dim=0)
    x = from_np(rng.normal(size=(2, 2, 5)))
    g = m.weight_g
    loss = (m(x) ** 2).sum()
    loss.backward()
    analytic = to_np(g.grad)
    num = np.zeros_like(analytic)
    base = to_np(g)
    eps = 1e-6
    for idx in np.ndindex(*base.shape):
        vals = []
        for s in (1, -1):
            with ranvier.no_grad():
                g.copy_(from_np(base))
                g[idx] = base[idx] + s * eps
            vals.append(float((m(x) ** 2).sum()))
        num[idx] = (vals[0] - vals[1]) / (2 * eps)
    np.testing.assert_allclose(analytic, num, rtol=1e-5, atol=1e-6)


def test_weight_norm_errors():
    m = weight_norm(nn.Linear(2, 2))
    with pytest.raises(RuntimeError, match="Cannot register two weight_norm hooks"):
        weight_norm(m)
    with pytest.raises(ValueError, match="weight_norm of 'bias' not found"):
        remove_weight_norm(m, "bias")
    with pytest.raises(ValueError, match="has no parameter named 'nope'"):
        weight_norm(nn.Linear(2, 2), name="nope")


# -- spectral_norm (hook form) ------------------------------------------------------------------
def test_spectral_norm_power_iteration():
    ranvier.manual_seed(2)
    m = nn.Linear(5, 4).double()
    w = to_np(m.weight)
    spectral_norm(m)
    assert list(m.state_dict().keys()) == ["bias", "weight_orig", "weight_u", "weight_v"]
    u0, v0 = to_np(m.weight_u), to_np(m.weight_v)
    assert abs(np.linalg.norm(u0) - 1) < 1e-12 and abs(np.linalg.norm(v0) - 1) < 1e-12
    x = rand_np((3, 5), np.float64)
    y = m(from_np(x))  # training: one power-iteration step first
    v1 = _normalize(w.T @ u0)
    u1 = _normalize(w @ v1)
    sigma = u1 @ w @ v1
    assert_close(m.weight_u, u1, rtol=1e-10, atol=1e-12)
    assert_close(m.weight_v, v1, rtol=1e-10, atol=1e-12)
    assert_close(y, x @ (w / sigma).T + to_np(m.bias), rtol=1e-10, atol=1e-12)
    y.sum().backward()
    assert m.weight_orig.grad is not None
    for _ in range(60):
        m(from_np(x))
    top = np.linalg.svd(w, compute_uv=False)[0]
    assert_close(m.weight, w / top, rtol=1e-6, atol=1e-8)
    m.eval()
    u_before = to_np(m.weight_u)
    m(from_np(x))
    np.testing.assert_array_equal(to_np(m.weight_u), u_before)
    remove_spectral_norm(m)
    assert list(m.state_dict().keys()) == ["bias", "weight"]
    assert_close(m.weight, w / top, rtol=1e-6, atol=1e-8)


def test_spectral_norm_conv_transpose_dim_and_errors():
    m = spectral_norm(nn.ConvTranspose2d(3, 5, 2))
    assert tuple(m.weight_u.shape) == (5,) and tuple(m.weight_v.shape) == (3 * 2 * 2,)
    m = spectral_norm(nn.Conv2d(3, 5, 2))
    assert tuple(m.weight_u.shape) == (5,)
    with pytest.raises(RuntimeError, match="Cannot register two spectral_norm hooks"):
        spectral_norm(m)
    with pytest.raises(ValueError, match="spectral_norm of 'weight' not found"):
        remove_spectral_norm(nn.Linear(2, 2))
    with pytest.raises(ValueError, match="n_power_iterations to be positive"):
        spectral_norm(nn.Linear(2, 2), n_power_iterations=0)


# -- parametrize ----------------------------------------------------------------------------------
class Symmetric(nn.Module):
    def forward(self, x):
        return x.triu() + x.triu(1).transpose(0, 1)

    def right_inverse(self, a):
        return a.triu()


class Scale(nn.Module):
    def forward(self, x):
        return 2 * x

    def right_inverse(self, a):
        return a / 2


def test_register_parametrization():
    m = nn.Linear(3, 3).double()
    w0 = to_np(m.weight)
    parametrize.register_parametrization(m, "weight", Symmetric())
    assert parametrize.is_parametrized(m) and parametrize.is_parametrized(m, "weight")
    assert not parametrize.is_parametrized(m, "bias")
    assert isinstance(m, nn.Linear) and type(m).__name__ == "ParametrizedLinear"
    assert parametrize.type_before_parametrizations(m) is nn.Linear
    assert list(m.state_dict().keys()) == ["bias", "parametrizations.weight.original"]
    sym = np.triu(w0) + np.triu(w0, 1).T
    assert_close(m.weight, sym, rtol=0, atol=0)
    assert_close(m.parametrizations.weight.original, np.triu(w0), rtol=0, atol=0)
    x = rand_np((2, 3), np.float64)
    assert_close(m(from_np(x)), x @ sym.T + to_np(m.bias), rtol=1e-12, atol=1e-12)
    # chaining and assignment through right_inverse
    parametrize.register_parametrization(m, "weight", Scale())
    assert_close(m.weight, 2 * sym, rtol=0, atol=0)
    a = rand_np((3, 3), np.float64)
    a = a + a.T
    m.weight = from_np(a)
    assert_close(m.weight, a, rtol=1e-12, atol=1e-12)
    # gradient reaches the original
    m(from_np(x)).sum().backward()
    assert m.parametrizations.weight.original.grad is not None
    with parametrize.cached():
        assert m.weight is m.weight
    assert m.weight is not m.weight
    parametrize.remove_parametrizations(m, "weight")
    assert type(m) is nn.Linear
    assert list(m.state_dict().keys()) == ["bias", "weight"]
    assert_close(m.weight, a, rtol=1e-12, atol=1e-12)


def test_remove_parametrizations_leave_original():
    m = nn.Linear(3, 3).double()
    w0 = to_np(m.weight)
    parametrize.register_parametrization(m, "weight", Scale())
    assert_close(m.weight, w0, rtol=1e-12, atol=1e-12)  # right_inverse halved the original
    parametrize.remove_parametrizations(m, "weight", leave_parametrized=False)
    assert_close(m.weight, w0 / 2, rtol=1e-12, atol=1e-12)


def test_parametrize_errors():
    m = nn.Linear(2, 2)
    with pytest.raises(ValueError, match="does not have a parameter, a buffer"):
        parametrize.register_parametrization(m, "nope", Scale())
    with pytest.raises(ValueError, match="does not have a parametrization on weight"):
        parametrize.remove_parametrizations(m, "weight")

    class Shrink(nn.Module):
        def forward(self, x):
            return x[0]
    with pytest.raises(ValueError, match="may not change the shape"):
        parametrize.register_parametrization(m, "weight", Shrink())


# -- parametrizations ---------------------------------------------------------------------------
def test_parametrizations_weight_norm():
    m = nn.Linear(3, 4).double()
    w0 = to_np(m.weight)
    parametrizations.weight_norm(m)
    assert list(m.state_dict().keys()) == ["bias", "parametrizations.weight.original0",
                                           "parametrizations.weight.original1"]
    assert_close(m.parametrizations.weight.original0, np_norm_except(w0, 0), rtol=1e-12,
                 atol=1e-12)
    assert_close(m.parametrizations.weight.original1, w0, rtol=0, atol=0)
    assert_close(m.weight, w0, rtol=1e-12, atol=1e-12)
    with ranvier.no_grad():
        m.parametrizations.weight.original0.mul_(3)
    assert_close(m.weight, 3 * w0, rtol=1e-12, atol=1e-12)
    parametrize.remove_parametrizations(m, "weight")
    assert isinstance(m.weight, nn.Parameter)
    assert_close(m.weight, 3 * w0, rtol=1e-12, atol=1e-12)


def test_parametrizations_spectral_norm():
    ranvier.manual_seed(3)
    m = nn.Linear(4, 6).double()
    w = to_np(m.weight)
    parametrizations.spectral_norm(m)
    assert list(m.state_dict().keys()) == ["bias", "parametrizations.weight.original",
                                           "parametrizations.weight.0._u",
                                           "parametrizations.weight.0._v"]
    sn = m.parametrizations.weight[0]
    u0, v0 = to_np(sn._u), to_np(sn._v)
    out = to_np(m.weight)  # training mode: one more step (u first, then v)
    u1 = _normalize(w @ v0)
    v1 = _normalize(w.T @ u1)
    np.testing.assert_allclose(out, w / (u1 @ w @ v1), rtol=1e-10, atol=1e-12)
    m.eval()
    for _ in range(3):
        np.testing.assert_array_equal(to_np(m.weight), to_np(m.weight))
    m.train()
    for _ in range(80):
        m.weight
    top = np.linalg.svd(w, compute_uv=False)[0]
    np.testing.assert_allclose(to_np(m.weight), w / top, rtol=1e-6, atol=1e-8)
    x = rand_np((2, 4), np.float64)
    m(from_np(x)).sum().backward()
    assert m.parametrizations.weight.original.grad is not None
    assert np.isfinite(u0).all()


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_against_torch_keys():
    torch = pytest.importorskip("torch")
    for fn, tfn in ((weight_norm, torch.nn.utils.weight_norm),
                    (spectral_norm, torch.nn.utils.spectral_norm),
                    (parametrizations.weight_norm, torch.nn.utils.parametrizations.weight_norm),
                    (parametrizations.spectral_norm,
                     torch.nn.utils.parametrizations.spectral_norm)):
        ours = list(fn(nn.Conv2d(2, 3, 2)).state_dict().keys())
        theirs = list(tfn(torch.nn.Conv2d(2, 3, 2)).state_dict().keys())
        assert ours == theirs


# -- orthogonal ---------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5)])
def test_parametrizations_orthogonal(shape):
    ranvier.manual_seed(4)
    m = nn.Linear(shape[1], shape[0]).double()
    w0 = to_np(m.weight)
    parametrizations.orthogonal(m)
    assert list(m.state_dict().keys()) == ["bias", "parametrizations.weight.original",
                                           "parametrizations.weight.0.base"]

    def check_orthogonal():
        w = to_np(m.weight)
        q = w if shape[0] >= shape[1] else w.T
        np.testing.assert_allclose(q.T @ q, np.eye(q.shape[1]), atol=1e-12)
        return w
    w = check_orthogonal()
    if shape[0] == shape[1]:
        q, r = np.linalg.qr(w0)
        np.testing.assert_allclose(w, q * np.sign(np.diag(r)), atol=1e-12)
    # a gradient step on the original keeps the weight orthogonal and changes it
    m(from_np(rand_np((2, shape[1]), np.float64))).sum().backward()
    with ranvier.no_grad():
        o = m.parametrizations.weight.original
        o.sub_(0.3 * o.grad)
    assert np.abs(check_orthogonal() - w).max() > 1e-3


def test_matrix_exp_against_series():
    from ranvier.nn.utils.parametrizations import _matrix_exp
    rng = np.random.default_rng(5)
    for scale in (0.1, 3.0):
        a = rng.normal(size=(4, 4)) * scale
        ref = np.eye(4)
        term = np.eye(4)
        for i in range(1, 120):
            term = term @ a / i
            ref = ref + term
        assert_close(_matrix_exp(from_np(a)), ref, rtol=1e-10, atol=1e-10)
    from helpers import gradcheck
    assert gradcheck(_matrix_exp, rng.normal(size=(3, 3)))


def test_orthogonal_errors():
    with pytest.raises(ValueError, match="expected a matrix"):
        parametrizations.orthogonal(nn.Conv1d(2, 2, 2))
    with pytest.raises(NotImplementedError, match="cayley"):
        parametrizations.orthogonal(nn.Linear(2, 2), orthogonal_map="cayley")
    with pytest.raises(ValueError, match="has no parameter or buffer with name 'w'"):
        parametrizations.orthogonal(nn.Linear(2, 2), name="w")


@pytest.mark.parametrize("shape,omap", [((4, 4), "matrix_exp"), ((5, 3), "householder"),
                                        ((3, 5), "householder"), ((5, 3), "matrix_exp")])
def test_orthogonal_against_torch(shape, omap):
    torch = pytest.importorskip("torch")
    tm = torch.nn.utils.parametrizations.orthogonal(
        torch.nn.Linear(shape[1], shape[0]).double(), orthogonal_map=omap)
    m = parametrizations.orthogonal(nn.Linear(shape[1], shape[0]).double(), orthogonal_map=omap)
    rng = np.random.default_rng(6)
    sd = {k: from_np(v.detach().numpy()) for k, v in tm.state_dict().items()}
    sd["parametrizations.weight.original"] = from_np(
        rng.normal(size=shape) * 0.5)
    m.load_state_dict(sd)
    with torch.no_grad():
        tm.parametrizations.weight.original.copy_(
            torch.tensor(to_np(sd["parametrizations.weight.original"])))
    np.testing.assert_allclose(to_np(m.weight), tm.weight.detach().numpy(), atol=1e-10)
