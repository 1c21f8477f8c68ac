"""nn.init: bounds and moments of every initialiser (statistical checks), gains, fans,
generators, no_grad behaviour and errors."""
import math

import numpy as np
import pytest

import ranvier as rv
import ranvier.nn as nn
from ranvier.nn import init
from helpers import to_np


def _param(*shape, dtype=rv.float32):
    return nn.Parameter(rv.empty(*shape, dtype=dtype))


def test_calculate_gain():
    assert init.calculate_gain("linear") == 1 and init.calculate_gain("conv2d") == 1
    assert init.calculate_gain("sigmoid") == 1
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("leaky_relu") == pytest.approx(math.sqrt(2 / (1 + 0.01 ** 2)))
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    assert init.calculate_gain("selu") == pytest.approx(0.75)
    with pytest.raises(ValueError, match="Unsupported nonlinearity"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="not a valid number"):
        init.calculate_gain("leaky_relu", "x")


def test_uniform_normal_constant():
    w = _param(300, 300)
    init.uniform_(w, -2.0, 3.0)
    a = to_np(w)
    assert a.min() >= -2.0 and a.max() <= 3.0 and abs(a.mean() - 0.5) < 0.02
    assert w.requires_grad and w.grad_fn is None  # filled under no_grad
    init.normal_(w, 1.0, 2.0)
    a = to_np(w)
    assert abs(a.mean() - 1.0) < 0.03 and abs(a.std() - 2.0) < 0.03
    init.constant_(w, 0.7)
    assert np.all(to_np(w) == np.float32(0.7))
    init.ones_(w)
    assert np.all(to_np(w) == 1)
    init.zeros_(w)
    assert np.all(to_np(w) == 0)


def test_generator_argument_is_used():
    g1, g2 = rv.Generator(), rv.Generator()
    g1.manual_seed(5)
    g2.manual_seed(5)
    a, b = _param(10, 10), _param(10, 10)
    init.kaiming_normal_(a, generator=g1)
    init.kaiming_normal_(b, generator=g2)
    np.testing.assert_array_equal(to_np(a), to_np(b))
    init.xavier_uniform_(a, generator=g1)
    assert not np.array_equal(to_np(a), to_np(b))


def test_fans_and_xavier():
    w = _param(64, 32, 3, 3)  # fan_in 32*9, fan_out 64*9
    fan_in, fan_out = init._calculate_fan_in_and_fan_out(w)
    assert (fan_in, fan_out) == (288, 576)
    init.xavier_uniform_(w, gain=2.0)
    bound = 2.0 * math.sqrt(6.0 / (288 + 576))
    a = to_np(w)
    assert a.max() <= bound and a.min() >= -bound and a.max() > 0.95 * bound
    init.xavier_normal_(w)
    assert abs(to_np(w).std() - math.sqrt(2.0 / (288 + 576))) < 0.003
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(_param(5))


@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
def test_kaiming(mode):
    w = _param(200, 100)
    fan = 100 if mode == "fan_in" else 200
    init.kaiming_uniform_(w, a=0.1, mode=mode, nonlinearity="leaky_relu")
    bound = math.sqrt(3) * math.sqrt(2 / (1 + 0.01)) / math.sqrt(fan)
    a = to_np(w)
    assert np.abs(a).max() <= bound and np.abs(a).max() > 0.95 * bound
    init.kaiming_normal_(w, mode=mode, nonlinearity="relu")
    assert abs(to_np(w).std() - math.sqrt(2 / fan)) < 0.04 * math.sqrt(2 / fan)
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        init.kaiming_uniform_(w, mode="fan_avg")


def test_kaiming_zero_element_warns():
    with pytest.warns(UserWarning, match="zero-element"):
        init.kaiming_uniform_(_param(0, 3))


def test_trunc_normal():
    w = _param(400, 400)
    init.trunc_normal_(w, mean=0.5, std=1.0, a=-0.5, b=1.0)
    a = to_np(w)
    assert a.min() >= -0.5 and a.max() <= 1.0
    # mean of N(0.5, 1) truncated to [-0.5, 1.0]: mu + (phi(alpha) - phi(beta)) / Z
    phi = lambda z: math.exp(-z * z / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    cdf = lambda z: 0.5 * (1 + math.erf(z / math.sqrt(2)))  # noqa: E731
    al, be = -1.0, 0.5
    expect = 0.5 + (phi(al) - phi(be)) / (cdf(be) - cdf(al))
    assert abs(a.mean() - expect) < 0.01
    with pytest.raises(ValueError, match="a < b"):
        init.trunc_normal_(w, a=1.0, b=0.0)


def test_eye_and_dirac():
    w = _param(3, 5)
    init.eye_(w)
    np.testing.assert_array_equal(to_np(w), np.eye(3, 5, dtype=np.float32))
    with pytest.raises(ValueError, match="Only tensors with 2 dimensions"):
        init.eye_(_param(2, 2, 2))
    c = _param(4, 2, 3)
    init.dirac_(c, groups=2)
    expect = np.zeros((4, 2, 3), np.float32)
    for g in range(2):
        for i in range(2):
            expect[g * 2 + i, i, 1] = 1
    np.testing.assert_array_equal(to_np(c), expect)
    with pytest.raises(ValueError, match="3, 4, or 5 dimensions"):
        init.dirac_(_param(2, 2))


@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (3, 2, 2)])
def test_orthogonal(shape):
    w = _param(*shape)
    init.orthogonal_(w, gain=2.0)
    m = to_np(w).reshape(shape[0], -1).astype(np.float64)
    if m.shape[0] >= m.shape[1]:
        np.testing.assert_allclose(m.T @ m, 4 * np.eye(m.shape[1]), atol=1e-5)
    else:
        np.testing.assert_allclose(m @ m.T, 4 * np.eye(m.shape[0]), atol=1e-5)
    with pytest.raises(ValueError, match="2 or more dimensions"):
        init.orthogonal_(_param(3))


def test_sparse():
    w = _param(10, 300)
    init.sparse_(w, 0.3, std=0.5)
    a = to_np(w)
    assert all((a[:, c] == 0).sum() >= 3 for c in range(300))
    nz = a[a != 0]
    assert abs(nz.std() - 0.5) < 0.03
    with pytest.raises(ValueError, match="Only tensors with 2 dimensions"):
        init.sparse_(_param(3), 0.1)
