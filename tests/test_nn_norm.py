"""Normalisation: batch_norm (train/eval, running stats), layer_norm, group_norm,
instance_norm, rms_norm, local_response_norm against NumPy; float64 gradchecks; errors;
modules' parameters, buffers and train/eval behaviour."""
import numpy as np
import pytest

import ranvier
import ranvier.nn as nn
import ranvier.nn.functional as F
from helpers import assert_close, from_np, gradcheck, noncontiguous, rand_np


def np_bn_train(x, w, b, eps):
    axes = (0,) + tuple(range(2, x.ndim))
    mu = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    shape = [1, -1] + [1] * (x.ndim - 2)
    return (x - mu) / np.sqrt(var + eps) * w.reshape(shape) + b.reshape(shape)


def np_ln(x, k, w=None, b=None, eps=1e-5):
    axes = tuple(range(x.ndim - k, x.ndim))
    mu = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    y = (x - mu) / np.sqrt(var + eps)
    if w is not None:
        y = y * w
    if b is not None:
        y = y + b
    return y


@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 5), (2, 3, 2, 2)])
def test_batch_norm_train_forward_and_running_stats(shape, device):
    x = rand_np(shape, np.float64)
    c = shape[1]
    w = rand_np((c,), np.float64, rng=np.random.default_rng(1))
    b = rand_np((c,), np.float64, rng=np.random.default_rng(2))
    rm, rv = from_np(np.zeros(c), device), from_np(np.ones(c), device)
    out = F.batch_norm(from_np(x, device), rm, rv, from_np(w, device), from_np(b, device),
                       training=True, momentum=0.3, eps=1e-3)
    assert_close(out, np_bn_train(x, w, b, 1e-3), rtol=1e-10, atol=1e-12)
    axes = (0,) + tuple(range(2, x.ndim))
    assert_close(rm, 0.3 * x.mean(axis=axes), rtol=1e-12)
    assert_close(rv, 0.7 + 0.3 * x.var(axis=axes, ddof=1), rtol=1e-12)


def test_batch_norm_eval_and_no_affine_float32_noncontiguous(device):
    x = rand_np((3, 4, 2), np.float32)
    rm = np.array([0.1, -0.2, 0.3, 0.0], dtype=np.float32)
    rv = np.array([1.5, 0.5, 2.0, 1.0], dtype=np.float32)
    out = F.batch_norm(noncontiguous(from_np(x, device)), from_np(rm, device),
                       from_np(rv, device), training=False)
    ref = (x - rm[None, :, None]) / np.sqrt(rv[None, :, None] + 1e-5)
    assert out.dtype == ranvier.float32
    assert_close(out, ref.astype(np.float32), rtol=1e-5, atol=1e-6)
    out = F.batch_norm(from_np(x, device), None, None, training=True)
    assert_close(out, np_bn_train(x.astype(np.float64), np.ones(4), np.zeros(4), 1e-5)
                 .astype(np.float32), rtol=1e-4, atol=1e-5)


def test_batch_norm_gradcheck():
    x = rand_np((3, 2, 4), np.float64)
    w = rand_np((2,), np.float64, rng=np.random.default_rng(1))
    b = rand_np((2,), np.float64, rng=np.random.default_rng(2))
    rm, rv = from_np(np.array([0.2, -0.1])), from_np(np.array([1.3, 0.7]))
    assert gradcheck(lambda a, ww, bb: F.batch_norm(a, None, None, ww, bb, True), x, w, b)
    assert gradcheck(lambda a, ww, bb: F.batch_norm(a, rm, rv, ww, bb, False), x, w, b)
    assert gradcheck(lambda a: F.batch_norm(a, None, None, training=True), x)


def test_batch_norm_errors():
    with pytest.raises(RuntimeError, match="running_mean should contain 4 elements not 3"):
        F.batch_norm(ranvier.zeros(2, 4), ranvier.zeros(3), ranvier.ones(3), training=True)
    with pytest.raises(RuntimeError, match="weight should contain 4 elements not 2"):
        F.batch_norm(ranvier.zeros(2, 4), None, None, ranvier.ones(2), training=True)
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        F.batch_norm(ranvier.zeros(1, 4), None, None, training=True)
    with pytest.raises(RuntimeError, match="batch_norm.*at least 2 dims"):
        F.batch_norm(ranvier.zeros(4), None, None, training=True)
    with pytest.raises(ValueError, match="BatchNorm2d: expected 4D input"):
        nn.BatchNorm2d(3)(ranvier.zeros(2, 3))
    a = ranvier.randn(3, 2, dtype=ranvier.float64).requires_grad_()
    loss = F.batch_norm(a, None, None, training=True).pow(2).sum()
    with pytest.raises(NotImplementedError, match="batch_norm: double backward"):
        ranvier.autograd.grad(loss, a, create_graph=True)


def test_batchnorm_module():
    m = nn.BatchNorm1d(3, momentum=0.2)
    assert [n for n, _ in m.named_parameters()] == ["weight", "bias"]
    assert [n for n, _ in m.named_buffers()] == ["running_mean", "running_var",
                                                 "num_batches_tracked"]
    assert_close(m.weight, np.ones(3, dtype=np.float32))
    assert_close(m.bias, np.zeros(3, dtype=np.float32))
    x = rand_np((5, 3), np.float32)
    out = m(from_np(x))
    assert_close(out, np_bn_train(x.astype(np.float64), np.ones(3), np.zeros(3), 1e-5)
                 .astype(np.float32), rtol=1e-4, atol=1e-5)
    assert int(m.num_batches_tracked) == 1
    assert_close(m.running_mean, (0.2 * x.mean(0)).astype(np.float32), rtol=1e-5, atol=1e-7)
    assert_close(m.running_var, (0.8 + 0.2 * x.var(0, ddof=1)).astype(np.float32), rtol=1e-5)
    m.eval()
    out = m(from_np(x))
    rm, rv = m.running_mean.numpy(), m.running_var.numpy()
    assert_close(out, ((x - rm) / np.sqrt(rv + 1e-5)).astype(np.float32), rtol=1e-5, atol=1e-6)
    assert int(m.num_batches_tracked) == 1
    m.reset_running_stats()
    assert_close(m.running_var, np.ones(3, dtype=np.float32))
    assert int(m.num_batches_tracked) == 0
    # momentum=None: cumulative average of the batch statistics
    c = nn.BatchNorm2d(2, momentum=None, affine=False)
    assert list(c.parameters()) == []
    xs = [rand_np((2, 2, 3, 3), np.float64, rng=np.random.default_rng(i)) for i in range(3)]
    for xi in xs:
        c(from_np(xi).float())
    mean_ref = np.mean([xi.mean(axis=(0, 2, 3)) for xi in xs], axis=0)
    assert_close(c.running_mean, mean_ref.astype(np.float32), rtol=1e-5, atol=1e-6)
    # without running stats: batch statistics in eval too
    n = nn.BatchNorm1d(3, track_running_stats=False)
    assert n.running_mean is None and [b for b, _ in n.named_buffers()] == []
    n.eval()
    assert_close(n(from_np(x)), np_bn_train(x.astype(np.float64), np.ones(3), np.zeros(3), 1e-5)
                 .astype(np.float32), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("shape,k", [((3, 5), 1), ((2, 3, 4), 2), ((2, 3, 4), 1)])
def test_layer_norm(shape, k, device):
    x = rand_np(shape, np.float64)
    ns = shape[len(shape) - k:]
    w = rand_np(ns, np.float64, rng=np.random.default_rng(1))
    b = rand_np(ns, np.float64, rng=np.random.default_rng(2))
    assert_close(F.layer_norm(from_np(x, device), ns, from_np(w, device), from_np(b, device)),
                 np_ln(x, k, w, b), rtol=1e-10, atol=1e-12)
    assert_close(F.layer_norm(from_np(x, device), ns), np_ln(x, k), rtol=1e-10, atol=1e-12)
    assert gradcheck(lambda a, ww, bb: F.layer_norm(a, ns, ww, bb), x, w, b)
    assert gradcheck(lambda a: F.layer_norm(a, ns, eps=1e-3), x)


def test_layer_norm_module_and_errors():
    m = nn.LayerNorm((3, 4))
    assert [n for n, _ in m.named_parameters()] == ["weight", "bias"]
    assert tuple(m.weight.shape) == (3, 4)
    x = rand_np((2, 3, 4), np.float32)
    assert_close(m(noncontiguous(from_np(x))), np_ln(x.astype(np.float64), 2)
                 .astype(np.float32), rtol=1e-4, atol=1e-5)
    assert m.bias is not None and nn.LayerNorm(4, bias=False).bias is None
    assert list(nn.LayerNorm(4, elementwise_affine=False).parameters()) == []
    with pytest.raises(RuntimeError, match=r"layer_norm: normalized_shape \[5\] does not match"):
        F.layer_norm(ranvier.zeros(2, 4), (5,))
    with pytest.raises(RuntimeError, match="layer_norm: expected weight of shape"):
        F.layer_norm(ranvier.zeros(2, 4), (4,), ranvier.ones(3))
    assert tuple(F.layer_norm(ranvier.zeros(0, 4), (4,)).shape) == (0, 4)


def test_group_norm():
    x = rand_np((2, 6, 3), np.float64)
    w = rand_np((6,), np.float64, rng=np.random.default_rng(1))
    b = rand_np((6,), np.float64, rng=np.random.default_rng(2))
    g = x.reshape(2, 3, -1)
    ref = np_ln(g, 1).reshape(x.shape) * w[None, :, None] + b[None, :, None]
    assert_close(F.group_norm(from_np(x), 3, from_np(w), from_np(b)), ref, rtol=1e-10)
    assert gradcheck(lambda a, ww, bb: F.group_norm(a, 3, ww, bb), x, w, b)
    m = nn.GroupNorm(3, 6)
    assert [n for n, _ in m.named_parameters()] == ["weight", "bias"]
    assert_close(m(from_np(x).float()), np_ln(g, 1).reshape(x.shape).astype(np.float32),
                 rtol=1e-4, atol=1e-5)
    with pytest.raises(RuntimeError, match="divisible by num_groups"):
        F.group_norm(ranvier.zeros(2, 5), 3)
    with pytest.raises(ValueError, match="GroupNorm"):
        nn.GroupNorm(4, 6)


def test_instance_norm():
    x = rand_np((2, 3, 5), np.float64)
    ref = np_ln(x, 1)
    assert_close(F.instance_norm(from_np(x)), ref, rtol=1e-10)
    assert gradcheck(lambda a: F.instance_norm(a), x)
    m = nn.InstanceNorm1d(3, track_running_stats=True, momentum=0.5)
    assert list(m.parameters()) == []
    out = m(from_np(x).float())
    assert_close(out, ref.astype(np.float32), rtol=1e-4, atol=1e-5)
    assert_close(m.running_mean, (0.5 * x.mean(2).mean(0)).astype(np.float32), rtol=1e-5,
                 atol=1e-7)
    assert_close(m.running_var, (0.5 + 0.5 * x.var(2, ddof=1).mean(0)).astype(np.float32),
                 rtol=1e-5)
    m.eval()
    rm, rv = m.running_mean.numpy(), m.running_var.numpy()
    assert_close(m(from_np(x).float()), ((x - rm[:, None]) / np.sqrt(rv[:, None] + 1e-5))
                 .astype(np.float32), rtol=1e-4, atol=1e-5)
    a = nn.InstanceNorm2d(3, affine=True)
    assert [n for n, _ in a.named_parameters()] == ["weight", "bias"]
    assert tuple(a(ranvier.randn(3, 4, 4)).shape) == (3, 4, 4)
    with pytest.raises(ValueError, match="InstanceNorm2d"):
        a(ranvier.zeros(2, 3))


def test_rms_norm():
    x = rand_np((2, 3, 4), np.float64)
    w = rand_np((4,), np.float64, rng=np.random.default_rng(1))
    ref = x / np.sqrt((x * x).mean(-1, keepdims=True) + 1e-6) * w
    assert_close(F.rms_norm(from_np(x), (4,), from_np(w), 1e-6), ref, rtol=1e-10)
    assert gradcheck(lambda a, ww: F.rms_norm(a, (3, 4), ww.reshape(1, 4), 1e-6), x, w)
    m = nn.RMSNorm([3, 4])
    assert [n for n, _ in m.named_parameters()] == ["weight"]
    ref2 = x / np.sqrt((x * x).mean((1, 2), keepdims=True) + np.finfo(np.float32).eps)
    assert_close(m(from_np(x).float()), ref2.astype(np.float32), rtol=1e-5, atol=1e-6)
    with pytest.raises(RuntimeError, match="rms_norm: normalized_shape"):
        F.rms_norm(ranvier.zeros(2, 3), (4,))


def test_local_response_norm():
    x = rand_np((2, 5, 3), np.float64)
    size, alpha, beta, k = 3, 0.1, 0.75, 2.0
    sq = np.pad(x * x, ((0, 0), (size // 2, (size - 1) // 2), (0, 0)))
    win = sum(sq[:, i:i + 5] for i in range(size)) / size
    ref = x / (k + alpha * win) ** beta
    assert_close(F.local_response_norm(from_np(x), size, alpha, beta, k), ref, rtol=1e-10)
    assert_close(nn.LocalResponseNorm(size, alpha, beta, k)(from_np(x)), ref, rtol=1e-10)
    assert gradcheck(lambda a: F.local_response_norm(a, 2, 0.1, 0.75, 2.0), x)
    with pytest.raises(ValueError, match="local_response_norm"):
        F.local_response_norm(ranvier.zeros(2, 3), 2)


def test_norm_modules_match_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    xs = [rng.normal(size=(4, 3, 5)).astype(np.float32) for _ in range(3)]
    for momentum in (0.1, None):
        r, t = nn.BatchNorm1d(3, momentum=momentum), torch.nn.BatchNorm1d(3, momentum=momentum)
        for x in xs:
            np.testing.assert_allclose(r(from_np(x)).detach().numpy(),
                                       t(torch.from_numpy(x)).detach().numpy(), rtol=1e-4,
                                       atol=1e-5)
        for name in ("running_mean", "running_var"):
            np.testing.assert_allclose(getattr(r, name).numpy(), getattr(t, name).numpy(),
                                       rtol=1e-5, atol=1e-6)
        assert sorted(t.state_dict().keys()) == sorted(
            [n for n, _ in r.named_parameters()] + [n for n, _ in r.named_buffers()])
    r = nn.InstanceNorm1d(3, track_running_stats=True)
    t = torch.nn.InstanceNorm1d(3, track_running_stats=True)
    r(from_np(xs[0]))
    t(torch.from_numpy(xs[0]))
    np.testing.assert_allclose(r.running_var.numpy(), t.running_var.numpy(), rtol=1e-5)


def test_norm_kernels_thread_count_independent():
    x = from_np(rand_np((64, 40, 33), np.float32))
    old = ranvier.get_num_threads()
    try:
        outs = []
        for n in (1, 3):
            ranvier.set_num_threads(n)
            a = x.clone().requires_grad_()
            w = ranvier.ones(40).requires_grad_()
            y = F.batch_norm(a, None, None, w, None, True) * 2 + F.layer_norm(a, (33,))
            y.sum().backward()
            outs.append((y.detach().numpy(), a.grad.numpy(), w.grad.numpy()))
        for u, v in zip(outs[0], outs[1]):
            np.testing.assert_array_equal(u, v)
    finally:
        ranvier.set_num_threads(old)


def test_reduced_precision_inputs():
    x = rand_np((4, 3, 2), np.float32)
    h = from_np(x).half().requires_grad_()
    out = F.batch_norm(h, None, None, training=True)
    assert out.dtype == ranvier.float16
    np.testing.assert_allclose(out.float().detach().numpy(),
                               np_bn_train(x.astype(np.float64), np.ones(3), np.zeros(3), 1e-5),
                               rtol=1e-2, atol=1e-2)
    out.float().sum().backward()
    assert h.grad.dtype == ranvier.float16
    out = F.layer_norm(from_np(x).bfloat16(), (2,))
    assert out.dtype == ranvier.bfloat16


def test_more_errors_and_empty_inputs():
    with pytest.raises(RuntimeError, match="batch_norm: running_mean and running_var must be "
                                           "defined in evaluation mode"):
        F.batch_norm(ranvier.zeros(2, 3), None, None, training=False)
    with pytest.raises(TypeError, match="batch_norm: expected a floating point input"):
        F.batch_norm(ranvier.tensor([[1, 2]]), None, None, training=True)
    with pytest.raises(TypeError, match="layer_norm: expected a floating point input"):
        F.layer_norm(ranvier.tensor([[1, 2]]), (2,))
    c = ranvier.zeros(0, 4, 3).requires_grad_()
    w = ranvier.ones(4).requires_grad_()
    out = F.batch_norm(c, None, None, w, None, True)
    assert tuple(out.shape) == (0, 4, 3)
    out.sum().backward()
    assert_close(w.grad, np.zeros(4, dtype=np.float32))
    assert tuple(c.grad.shape) == (0, 4, 3)
    rm, rv = ranvier.zeros(4), ranvier.ones(4)
    F.batch_norm(ranvier.zeros(0, 4), rm, rv, training=True)
    assert_close(rm, np.zeros(4, dtype=np.float32))
    assert_close(rv, np.ones(4, dtype=np.float32))
    with pytest.raises(RuntimeError, match="layer_norm: expected normalized_shape to have at "
                                           "least one element"):
        F.layer_norm(ranvier.zeros(2, 3), ())


@pytest.mark.parametrize("k", [7, 128, 133])
def test_layer_norm_float32_with_affine_matches_float64_and_any_thread_count(k):
    # The float32 kernel: row sums in double over eight lanes (every tail length), the
    # elementwise passes in float32; against NumPy in float64, and the same bits for 1 and 3
    # threads, forward and all three gradients.
    rng = np.random.default_rng(k)
    x = (rng.standard_normal((37, k)) * 3 + 1).astype(np.float32)
    w = rng.standard_normal(k).astype(np.float32)
    b = rng.standard_normal(k).astype(np.float32)
    g = rng.standard_normal((37, k)).astype(np.float32)
    x64 = x.astype(np.float64)
    mu = x64.mean(1, keepdims=True)
    inv = 1 / np.sqrt(x64.var(1, keepdims=True) + 1e-5)
    xh = (x64 - mu) * inv
    dxh = g * w
    gx_ref = inv * (dxh - dxh.mean(1, keepdims=True) - xh * (dxh * xh).mean(1, keepdims=True))
    old = ranvier.get_num_threads()
    outs = []
    try:
        for n in (1, 3):
            ranvier.set_num_threads(n)
            a, ww, bb = (from_np(v).requires_grad_() for v in (x, w, b))
            y = F.layer_norm(a, (k,), ww, bb)
            y.backward(from_np(g))
            outs.append([t.detach().numpy() for t in (y, a.grad, ww.grad, bb.grad)])
    finally:
        ranvier.set_num_threads(old)
    for u, v in zip(outs[0], outs[1]):
        np.testing.assert_array_equal(u, v)
    y, gx, gw, gb = outs[0]
    np.testing.assert_allclose(y, xh * w + b, rtol=1e-5, atol=2e-5)
    np.testing.assert_allclose(gx, gx_ref, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(gw, (g * xh).sum(0), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(gb, g.sum(0), rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("has_w,has_b", [(True, False), (False, True), (False, False)])
def test_layer_norm_float32_partial_affine(has_w, has_b):
    # Each weight / bias combination has its own compiled loop (kernels/cpu/norm.cpp).
    rng = np.random.default_rng(int(has_w) * 2 + int(has_b))
    x = (rng.standard_normal((9, 37)) * 2 - 1).astype(np.float32)
    w = rng.standard_normal(37).astype(np.float32)
    b = rng.standard_normal(37).astype(np.float32)
    x64 = x.astype(np.float64)
    ref = (x64 - x64.mean(1, keepdims=True)) / np.sqrt(x64.var(1, keepdims=True) + 1e-5)
    if has_w:
        ref = ref * w
    if has_b:
        ref = ref + b
    y = F.layer_norm(from_np(x), (37,), from_np(w) if has_w else None,
                     from_np(b) if has_b else None)
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-5, atol=2e-5)
