"""conv2d's one-pass backward kernel (input, weight and bias gradients together): float32
gradients against NumPy for batches on both sides of the chunk size, groups, 1x1, depthwise,
strides and dilation; any subset of the three gradients; zero-size batches; the same bits for
1 to 4 threads (including the batches where the input gradient runs apart)."""
import numpy as np
import pytest

import ranvier
import ranvier.nn.functional as F
from helpers import from_np

RNG = np.random.default_rng(2024)


def rnd(*shape):
    return RNG.uniform(-1, 1, size=shape).astype(np.float32)


def np_conv2d_grads(x, w, gout, stride, pad, dil, groups):
    """Gradients of sum(conv2d(x, w, b) * gout) in float64: (dx, dw, db)."""
    x, w, gout = (a.astype(np.float64) for a in (x, w, gout))
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    og = o // groups
    oh, ow = gout.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    for g in range(groups):
        gs = gout[:, g * og:(g + 1) * og]
        wg = w[g * og:(g + 1) * og]
        for ki in range(kh):
            for kj in range(kw):
                y0, x0 = ki * dil[0], kj * dil[1]
                sl = (slice(None), slice(g * cg, (g + 1) * cg),
                      slice(y0, y0 + stride[0] * (oh - 1) + 1, stride[0]),
                      slice(x0, x0 + stride[1] * (ow - 1) + 1, stride[1]))
                patch = xp[sl]  # [n, cg, oh, ow]
                dw[g * og:(g + 1) * og, :, ki, kj] = np.einsum("nohw,nchw->oc", gs, patch)
                dxp[sl] += np.einsum("nohw,oc->nchw", gs, wg[:, :, ki, kj])
    dx = dxp[:, :, pad[0]:pad[0] + h, pad[1]:pad[1] + wd]
    return dx, dw, gout.sum(axis=(0, 2, 3))


CASES = [
    # N, C, H, W, O, (kh, kw), stride, pad, dil, groups
    (1, 3, 5, 6, 4, (3, 3), (1, 1), (1, 1), (1, 1), 1),
    (9, 5, 7, 5, 6, (3, 3), (1, 1), (1, 1), (1, 1), 1),
    (17, 1, 9, 8, 7, (3, 3), (1, 1), (1, 1), (1, 1), 1),    # one input channel (conv1-like)
    (20, 4, 6, 7, 6, (3, 2), (2, 1), (1, 0), (1, 2), 2),
    (11, 6, 5, 5, 9, (1, 1), (1, 1), (0, 0), (1, 1), 3),    # pointwise
    (13, 4, 6, 5, 4, (3, 3), (2, 2), (1, 1), (1, 1), 4),    # depthwise: direct kernels
    (8, 32, 6, 6, 16, (3, 3), (1, 1), (1, 1), (1, 1), 1),   # exactly one chunk
]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("which", [(True, True, True), (False, True, True), (True, False, False),
                                   (False, False, True), (True, True, False)])
def test_backward_matches_numpy(case, which):
    n, c, h, wd, o, k, s, p, d, g = case
    x, w, b = rnd(n, c, h, wd), rnd(o, c // g, *k), rnd(o)
    need_x, need_w, need_b = which
    tx = from_np(x, requires_grad=need_x)
    tw = from_np(w, requires_grad=need_w)
    tb = from_np(b, requires_grad=need_b)
    y = F.conv2d(tx, tw, tb, s, p, d, g)
    gout = rnd(*y.shape)
    y.backward(from_np(gout))
    dx, dw, db = np_conv2d_grads(x, w, gout, s, p, d, g)
    for t, ref, need in ((tx, dx, need_x), (tw, dw, need_w), (tb, db, need_b)):
        if need:
            assert t.grad is not None and tuple(t.grad.shape) == ref.shape
            np.testing.assert_allclose(t.grad.numpy(), ref, rtol=1e-4, atol=1e-4)
        else:
            assert t.grad is None


def test_backward_float64_and_noncontiguous_grad():
    x, w, b = (a.astype(np.float64) for a in (rnd(10, 3, 6, 5), rnd(4, 3, 3, 3), rnd(4)))
    tx, tw, tb = (from_np(a, requires_grad=True) for a in (x, w, b))
    y = F.conv2d(tx, tw, tb, 1, 1)
    gfull = RNG.uniform(-1, 1, size=(10, 4, 6, 10))
    gview = from_np(gfull)[:, :, :, ::2]  # non-contiguous output gradient
    y.backward(gview)
    dx, dw, db = np_conv2d_grads(x, w, gfull[:, :, :, ::2], (1, 1), (1, 1), (1, 1), 1)
    assert tw.grad.dtype == ranvier.float64
    np.testing.assert_allclose(tx.grad.numpy(), dx, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(tw.grad.numpy(), dw, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(tb.grad.numpy(), db, rtol=1e-10, atol=1e-10)


def test_backward_zero_batch():
    tx = from_np(rnd(0, 3, 5, 5), requires_grad=True)
    tw = from_np(rnd(4, 3, 3, 3), requires_grad=True)
    tb = from_np(rnd(4), requires_grad=True)
    F.conv2d(tx, tw, tb, 1, 1).sum().backward()
    assert tuple(tx.grad.shape) == (0, 3, 5, 5)
    assert np.array_equal(tw.grad.numpy(), np.zeros((4, 3, 3, 3), np.float32))
    assert np.array_equal(tb.grad.numpy(), np.zeros(4, np.float32))


def _grads(threads, arrays, groups):
    old = ranvier.get_num_threads()
    ranvier.set_num_threads(threads)
    try:
        tx, tw, tb = (from_np(a, requires_grad=True) for a in arrays[:3])
        y = F.conv2d(tx, tw, tb, 1, 1, 1, groups)
        y.backward(from_np(arrays[3]))
        return [t.grad.numpy().copy() for t in (tx, tw, tb)]
    finally:
        ranvier.set_num_threads(old)


@pytest.mark.parametrize("n,groups", [(9, 1), (17, 1), (33, 2), (5, 1), (12, 6)])
def test_backward_same_bits_any_thread_count(n, groups):
    c, o = 6, 12
    arrays = [rnd(n, c, 7, 9), rnd(o, c // groups, 3, 3), rnd(o), rnd(n, o, 7, 9)]
    ref = _grads(1, arrays, groups)
    for threads in (2, 3, 4):
        got = _grads(threads, arrays, groups)
        for a, b in zip(ref, got):
            assert np.array_equal(a, b), threads
