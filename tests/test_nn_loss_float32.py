"""cross_entropy on float32 (N, C) logits, which runs on vectorised float kernels
(kernels/cpu/loss.cpp): loss and gradient against a float64 NumPy reference, with class
weights, label smoothing, ignored samples, extreme logits, and any thread count."""
import numpy as np
import pytest

import ranvier
from ranvier.nn import functional as F


def reference(x, t, w, ignore, ls):
    """Per-sample loss and d(sum of losses)/dx in float64."""
    x = x.astype(np.float64)
    n, c = x.shape
    m = x.max(1, keepdims=True)
    lp = x - m - np.log(np.exp(x - m).sum(1, keepdims=True))
    p = np.exp(lp)
    w = np.ones(c) if w is None else w.astype(np.float64)
    loss = np.zeros(n)
    grad = np.zeros_like(x)
    for i in range(n):
        k = t[i]
        if k == ignore:
            continue
        loss[i] = -(1 - ls) * w[k] * lp[i, k] - ls / c * (w * lp[i]).sum()
        onehot = np.zeros(c)
        onehot[k] = 1
        # d/dx of -(1-ls) w_k lp_k - ls/c sum_j w_j lp_j
        grad[i] = p[i] * ((1 - ls) * w[k] + ls / c * w.sum()) - (1 - ls) * w[k] * onehot \
            - ls / c * w
    return loss, grad


@pytest.mark.parametrize("c", [1, 5, 16, 17, 96, 1000])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ls", [0.0, 0.1])
def test_float32_rows_match_float64_reference(c, weighted, ls):
    rng = np.random.default_rng(c * 10 + int(weighted) + int(ls * 10))
    n = 37
    x = (rng.standard_normal((n, c)) * 4).astype(np.float32)
    t = rng.integers(0, c, n)
    t[::5] = -100  # ignored
    w = rng.uniform(0.5, 2.0, c).astype(np.float32) if weighted else None
    xt = ranvier.from_numpy(x).requires_grad_()
    out = F.cross_entropy(xt, ranvier.from_numpy(t), reduction="none", label_smoothing=ls,
                          weight=None if w is None else ranvier.from_numpy(w))
    out.sum().backward()
    loss, grad = reference(x, t, w, -100, ls)
    np.testing.assert_allclose(out.detach().numpy(), loss, rtol=2e-5, atol=2e-5)
    np.testing.assert_allclose(xt.grad.numpy(), grad, rtol=2e-5, atol=2e-6)


def test_extreme_logits_stay_finite_and_exact():
    x = np.array([[1000.0, -1000.0, 0.0], [-90.0, -95.0, -200.0], [88.0, 88.0, 88.0]],
                 np.float32)
    t = np.array([0, 1, 2])
    xt = ranvier.from_numpy(x).requires_grad_()
    out = F.cross_entropy(xt, ranvier.from_numpy(t), reduction="none")
    out.sum().backward()
    loss, grad = reference(x, t, None, -100, 0.0)
    np.testing.assert_allclose(out.detach().numpy(), loss, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(xt.grad.numpy(), grad, rtol=1e-5, atol=1e-6)


def test_nan_logit_gives_nan_loss():
    x = np.array([[0.0, np.nan, 1.0], [0.0, 1.0, 2.0]], np.float32)
    out = F.cross_entropy(ranvier.from_numpy(x), ranvier.tensor([0, 0]), reduction="none")
    v = out.numpy()
    assert np.isnan(v[0]) and np.isfinite(v[1])


def test_same_bits_for_any_thread_count():
    rng = np.random.default_rng(5)
    x = ranvier.from_numpy(rng.standard_normal((3000, 96)).astype(np.float32))
    t = ranvier.from_numpy(rng.integers(0, 96, 3000))
    old = ranvier.get_num_threads()
    outs = []
    try:
        for k in (1, 2, 3):
            ranvier.set_num_threads(k)
            xt = x.clone().requires_grad_()
            loss = F.cross_entropy(xt, t, label_smoothing=0.1)
            loss.backward()
            outs.append((loss.item(), xt.grad.numpy().copy()))
    finally:
        ranvier.set_num_threads(old)
    for v, g in outs[1:]:
        assert v == outs[0][0]
        np.testing.assert_array_equal(g, outs[0][1])
