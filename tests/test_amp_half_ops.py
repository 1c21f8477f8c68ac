"""float16 / bfloat16 on the CPU for the ops the autocast lists use: the convolutions and the
pooling ops (which run in float32 between two casts on the CPU), and the matrix products,
softmax, norms and losses, forward and backward, against NumPy on the same rounded inputs."""
import numpy as np
import pytest

import ranvier
import ranvier.nn.functional as F
from helpers import assert_close, noncontiguous, to_np

HALF = [ranvier.float16, ranvier.bfloat16]
TOL = {ranvier.float16: 4e-3, ranvier.bfloat16: 3e-2}


def _half(a, dtype, requires_grad=False):
    """A half tensor from a NumPy array, and the NumPy float64 copy of its rounded values."""
    t = ranvier.tensor(np.asarray(a, np.float32)).to(dtype)
    if requires_grad:
        t.requires_grad_(True)
    return t, to_np(t).astype(np.float64)


def np_conv2d(x, w, b=None, stride=1, pad=0):
    n, c, h, wd = x.shape
    co, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = (h + 2 * pad - kh) // stride + 1, (wd + 2 * pad - kw) // stride + 1
    out = np.zeros((n, co, oh, ow))
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
            out[:, :, i, j] = np.einsum("nckl,ockl->no", patch, w)
    return out if b is None else out + b[None, :, None, None]


def np_conv_transpose2d(x, w, stride=1, pad=0):
    n, ci, h, wd = x.shape
    _, co, kh, kw = w.shape
    full = np.zeros((n, co, (h - 1) * stride + kh, (wd - 1) * stride + kw))
    for i in range(h):
        for j in range(wd):
            full[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw] += np.einsum(
                "nc,cokl->nokl", x[:, :, i, j], w)
    return full[:, :, pad:full.shape[2] - pad, pad:full.shape[3] - pad]


def numeric_grad(f, a, eps=1e-3):
    """Central differences of the scalar f at a (float64)."""
    g = np.zeros_like(a)
    for idx in np.ndindex(a.shape):
        d = np.zeros_like(a)
        d[idx] = eps
        g[idx] = (f(a + d) - f(a - d)) / (2 * eps)
    return g


@pytest.mark.parametrize("dtype", HALF)
@pytest.mark.parametrize("stride,pad", [(1, 0), (2, 1)])
def test_conv2d_forward_backward(dtype, stride, pad):
    rng = np.random.default_rng(0)
    x, xn = _half(rng.uniform(-1, 1, (2, 3, 5, 5)), dtype, True)
    w, wn = _half(rng.uniform(-1, 1, (4, 3, 3, 3)), dtype, True)
    b, bn = _half(rng.uniform(-1, 1, (4,)), dtype, True)
    out = F.conv2d(x, w, b, stride=stride, padding=pad)
    assert out.dtype == dtype
    ref = np_conv2d(xn, wn, bn, stride, pad)
    tol = TOL[dtype]
    assert_close(out.double(), ref, rtol=tol, atol=tol * 4)
    g = np.random.default_rng(1).uniform(-1, 1, ref.shape)
    (out.float() * ranvier.tensor(g.astype(np.float32))).sum().backward()
    assert x.grad.dtype == dtype and w.grad.dtype == dtype and b.grad.dtype == dtype
    gx = numeric_grad(lambda a: (np_conv2d(a, wn, bn, stride, pad) * g).sum(), xn)
    gw = numeric_grad(lambda a: (np_conv2d(xn, a, bn, stride, pad) * g).sum(), wn)
    assert_close(x.grad.double(), gx, rtol=tol, atol=tol * 8)
    assert_close(w.grad.double(), gw, rtol=tol, atol=tol * 16)
    assert_close(b.grad.double(), g.sum((0, 2, 3)), rtol=tol, atol=tol * 16)


@pytest.mark.parametrize("dtype", HALF)
def test_conv_transpose2d_and_1d_forms(dtype):
    rng = np.random.default_rng(2)
    x, xn = _half(rng.uniform(-1, 1, (1, 2, 4, 4)), dtype, True)
    w, wn = _half(rng.uniform(-1, 1, (2, 3, 3, 3)), dtype, True)
    out = F.conv_transpose2d(x, w, stride=2, padding=1)
    assert out.dtype == dtype
    ref = np_conv_transpose2d(xn, wn, 2, 1)
    tol = TOL[dtype]
    assert_close(out.double(), ref, rtol=tol, atol=tol * 4)
    out.float().sum().backward()
    gx = numeric_grad(lambda a: np_conv_transpose2d(a, wn, 2, 1).sum(), xn)
    assert x.grad.dtype == dtype
    assert_close(x.grad.double(), gx, rtol=tol, atol=tol * 8)
    # the 1-D forms run the 2-D ops on [N, C, 1, L]
    x1, x1n = _half(rng.uniform(-1, 1, (2, 3, 6)), dtype)
    w1, w1n = _half(rng.uniform(-1, 1, (4, 3, 2)), dtype)
    assert_close(F.conv1d(x1, w1).double(), np_conv2d(x1n[:, :, None], w1n[:, :, None])[:, :, 0],
                 rtol=tol, atol=tol * 4)
    wt1, wt1n = _half(rng.uniform(-1, 1, (3, 2, 2)), dtype)
    assert_close(F.conv_transpose1d(x1, wt1).double(),
                 np_conv_transpose2d(x1n[:, :, None], wt1n[:, :, None])[:, :, 0],
                 rtol=tol, atol=tol * 4)


@pytest.mark.parametrize("dtype", HALF)
def test_conv2d_noncontiguous_and_empty(dtype):
    rng = np.random.default_rng(3)
    x, xn = _half(rng.uniform(-1, 1, (1, 2, 4, 4)), dtype)
    w, wn = _half(rng.uniform(-1, 1, (2, 2, 2, 2)), dtype)
    out = F.conv2d(noncontiguous(x), noncontiguous(w))
    assert_close(out.double(), np_conv2d(xn, wn), rtol=TOL[dtype], atol=TOL[dtype] * 4)
    empty = F.conv2d(ranvier.zeros(0, 2, 4, 4, dtype=dtype), w)
    assert tuple(empty.shape) == (0, 2, 3, 3) and empty.dtype == dtype


def test_conv2d_mixed_half_dtypes_are_an_error():
    x = ranvier.zeros(1, 2, 4, 4, dtype=ranvier.float16)
    with pytest.raises(TypeError, match="conv2d.*one dtype"):
        F.conv2d(x, ranvier.zeros(2, 2, 2, 2, dtype=ranvier.bfloat16))


@pytest.mark.parametrize("dtype", HALF)
def test_pooling(dtype):
    rng = np.random.default_rng(4)
    x, xn = _half(rng.uniform(-1, 1, (2, 3, 4, 6)), dtype, True)
    mx = F.max_pool2d(x, 2)
    r = xn.reshape(2, 3, 2, 2, 3, 2)
    assert mx.dtype == dtype
    assert_close(mx.double(), r.max((3, 5)), rtol=0, atol=0)  # max picks an input value
    av = F.avg_pool2d(x, 2)
    assert_close(av.double(), r.mean((3, 5)), rtol=TOL[dtype], atol=TOL[dtype])
    ad = F.adaptive_avg_pool2d(x, (1, 1))
    assert_close(ad.double(), xn.mean((2, 3), keepdims=True), rtol=TOL[dtype], atol=TOL[dtype])
    (mx.float().sum() + av.float().sum()).backward()
    assert x.grad.dtype == dtype
    expected = np.full(xn.shape, 0.25)
    flat = r.transpose(0, 1, 2, 4, 3, 5).reshape(2, 3, 2, 3, 4)
    arg = flat.argmax(-1)
    for idx in np.ndindex(arg.shape):
        n, c, i, j = idx
        k = arg[idx]
        expected[n, c, 2 * i + k // 2, 2 * j + k % 2] += 1.0
    assert_close(x.grad.double(), expected, rtol=0, atol=TOL[dtype])


def _softmax(a, axis):
    e = np.exp(a - a.max(axis, keepdims=True))
    return e / e.sum(axis, keepdims=True)


OPS = {
    "matmul": (lambda a, b: a @ b, lambda a, b: a @ b, [(3, 4), (4, 5)]),
    "bmm": (ranvier.bmm, lambda a, b: a @ b, [(2, 3, 4), (2, 4, 2)]),
    "linear": (F.linear, lambda x, w: x @ w.T, [(3, 4), (5, 4)]),
    "softmax": (lambda a: F.softmax(a, 1), lambda a: _softmax(a, 1), [(3, 5)]),
    "log_softmax": (lambda a: F.log_softmax(a, 1), lambda a: np.log(_softmax(a, 1)), [(3, 5)]),
    "layer_norm": (lambda a: F.layer_norm(a, (5,)),
                   lambda a: (a - a.mean(1, keepdims=True)) /
                   np.sqrt(a.var(1, keepdims=True) + 1e-5), [(3, 5)]),
    "mse_loss": (F.mse_loss, lambda a, b: ((a - b) ** 2).mean(), [(3, 5), (3, 5)]),
    "exp": (ranvier.exp, np.exp, [(7,)]),
    "sum": (lambda a: a.sum(1), lambda a: a.sum(1), [(3, 5)]),
    "sdpa": (F.scaled_dot_product_attention,
             lambda q, k, v: _softmax(q @ k.swapaxes(-1, -2) / 2.0, -1) @ v,
             [(1, 2, 3, 4), (1, 2, 3, 4), (1, 2, 3, 4)]),
}


@pytest.mark.parametrize("dtype", HALF)
@pytest.mark.parametrize("name", sorted(OPS))
def test_listed_ops_in_half(name, dtype):
    fn, ref, shapes = OPS[name]
    rng = np.random.default_rng(5)
    ins = [_half(rng.uniform(-1, 1, s), dtype, True) for s in shapes]
    out = fn(*[t for t, _ in ins])
    assert out.dtype == dtype
    tol = TOL[dtype]
    expected = ref(*[a for _, a in ins])
    assert_close(out.double(), np.asarray(expected, np.float64), rtol=tol * 2, atol=tol * 2)
    out.float().sum().backward()
    for t, _ in ins:
        assert t.grad is not None and t.grad.dtype == dtype


@pytest.mark.parametrize("dtype", HALF)
def test_cross_entropy_in_half(dtype):
    rng = np.random.default_rng(6)
    x, xn = _half(rng.uniform(-2, 2, (4, 3)), dtype, True)
    y = np.array([0, 2, 1, 2])
    loss = F.cross_entropy(x, ranvier.tensor(y))
    lsm = np.log(_softmax(xn, 1))
    assert_close(loss.double(), -lsm[np.arange(4), y].mean(), rtol=TOL[dtype] * 2,
                 atol=TOL[dtype] * 2)
    loss.float().backward()
    expected = (_softmax(xn, 1) - np.eye(3)[y]) / 4
    assert_close(x.grad.double(), expected, rtol=TOL[dtype] * 2, atol=TOL[dtype] * 2)
