"""conv2d through the Winograd F(2x2, 3x3) kernels (3x3, stride 1, no dilation, one group,
padding up to 2, at least 16 input and output channels): forward and all gradients against
NumPy for odd and even sizes, rows wider than one 16-tile vector, narrow maps (two rows of
tiles per vector), a single pixel, float64 finite differences, conv_transpose2d (which runs
the same kernels the other way round), the shapes next to the ones it takes, and the same
bits for any thread count."""
import numpy as np
import pytest

import ranvier
import ranvier.nn.functional as F
from helpers import from_np, gradcheck
from test_nn_conv import np_conv2d
from test_nn_conv_backward_fused import np_conv2d_grads

RNG = np.random.default_rng(11)


def rnd(*shape, dtype=np.float32):
    return RNG.uniform(-1, 1, size=shape).astype(dtype)


CASES = [
    # N, C, H, W, O, pad
    (3, 16, 14, 14, 16, 1),
    (2, 17, 5, 8, 20, 0),
    (5, 16, 7, 6, 18, 2),
    (9, 20, 2, 2, 16, 1),      # one 2x2 tile per sample, mostly padding
    (9, 20, 1, 1, 16, 1),      # one pixel (GEMM path, next to the Winograd one)
    (4, 16, 4, 9, 16, 0),      # a single row of tiles, the last one half empty
    (2, 16, 9, 11, 24, 1),     # odd sizes: half-empty edge tiles
    (2, 16, 15, 16, 16, 1),    # 8 tiles across, two rows of tiles per vector
    (2, 16, 3, 67, 16, 2),     # 35 tiles across: three vector steps, the last partial
    (1, 16, 35, 33, 16, 0),
    (17, 16, 4, 5, 16, 1),     # three chunks of samples
    (3, 16, 100, 99, 16, 1),   # large samples: transformed one at a time
]


@pytest.mark.parametrize("case", CASES)
def test_winograd_conv_matches_numpy(case):
    n, c, h, w, o, p = case
    x, wt, b = rnd(n, c, h, w), rnd(o, c, 3, 3), rnd(o)
    tx, tw, tb = (from_np(a, requires_grad=True) for a in (x, wt, b))
    y = F.conv2d(tx, tw, tb, 1, p)
    ref = np_conv2d(x.astype(np.float64), wt.astype(np.float64), b.astype(np.float64),
                    pad=(p, p))
    assert tuple(y.shape) == ref.shape
    np.testing.assert_allclose(y.detach().numpy(), ref, rtol=1e-4, atol=1e-4)
    gout = rnd(*ref.shape)
    y.backward(from_np(gout))
    dx, dw, db = np_conv2d_grads(x, wt, gout, (1, 1), (p, p), (1, 1), 1)
    np.testing.assert_allclose(tx.grad.numpy(), dx, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(tw.grad.numpy(), dw, rtol=1e-4, atol=2e-4)
    np.testing.assert_allclose(tb.grad.numpy(), db, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("p", [0, 1, 2])
def test_winograd_float64_gradcheck(p):
    x, w, b = rnd(2, 16, 5, 4, dtype=np.float64), rnd(16, 16, 3, 3, dtype=np.float64), rnd(16)
    assert gradcheck(lambda a, c, d: F.conv2d(a, c, d, 1, p), x, w, b.astype(np.float64))


def test_winograd_float64_matches_numpy_tightly():
    x, w = rnd(3, 16, 6, 7, dtype=np.float64), rnd(16, 16, 3, 3, dtype=np.float64)
    y = F.conv2d(from_np(x), from_np(w), None, 1, 1)
    np.testing.assert_allclose(y.numpy(), np_conv2d(x, w, pad=(1, 1)), rtol=1e-12, atol=1e-12)


def test_winograd_transpose_conv_matches_numpy():
    # conv_transpose2d with stride 1 and a 3x3 kernel is a Winograd input-gradient pass
    from test_nn_conv import np_conv_transpose2d
    x, w, b = rnd(3, 16, 6, 9), rnd(16, 20, 3, 3), rnd(20)
    tx, tw = from_np(x, requires_grad=True), from_np(w, requires_grad=True)
    y = F.conv_transpose2d(tx, tw, from_np(b), padding=1)
    ref = np_conv_transpose2d(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64),
                              pad=(1, 1))
    np.testing.assert_allclose(y.detach().numpy(), ref, rtol=1e-4, atol=1e-4)
    gout = rnd(*ref.shape)
    y.backward(from_np(gout))
    # conv_transpose2d is the adjoint of conv2d in its input: its gradients are conv2d's
    # forward (input) and weight gradient with the roles of input and output swapped
    ref_dx = np_conv2d(gout.astype(np.float64), w.astype(np.float64), pad=(1, 1))
    _, ref_dw, _ = np_conv2d_grads(gout, w, x, (1, 1), (1, 1), (1, 1), 1)
    np.testing.assert_allclose(tx.grad.numpy(), ref_dx, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(tw.grad.numpy(), ref_dw, rtol=1e-4, atol=2e-4)


@pytest.mark.parametrize("kw", [{"stride": 2}, {"dilation": 2}, {"groups": 2}])
def test_neighbouring_shapes_still_right(kw):
    x, w = rnd(2, 16, 9, 8), rnd(16, 16 // kw.get("groups", 1), 3, 3)
    y = F.conv2d(from_np(x), from_np(w), None, padding=1, **kw)
    s, d, g = kw.get("stride", 1), kw.get("dilation", 1), kw.get("groups", 1)
    ref = np_conv2d(x.astype(np.float64), w.astype(np.float64), None, (s, s), (1, 1), (d, d), g)
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("n,h,w", [(3, 7, 9), (19, 7, 9), (9, 90, 91)])
def test_winograd_same_bits_any_thread_count(n, h, w):
    arrays = [rnd(n, 16, h, w), rnd(24, 16, 3, 3), rnd(24)]
    gout = rnd(n, 24, h, w)

    def run(threads):
        old = ranvier.get_num_threads()
        ranvier.set_num_threads(threads)
        try:
            tx, tw, tb = (from_np(a, requires_grad=True) for a in arrays)
            y = F.conv2d(tx, tw, tb, 1, 1)
            y.backward(from_np(gout))
            return [t.numpy().copy() for t in (y.detach(), tx.grad, tw.grad, tb.grad)]
        finally:
            ranvier.set_num_threads(old)

    ref = run(1)
    for threads in (2, 3):
        for a, b in zip(ref, run(threads)):
            assert np.array_equal(a, b)


@pytest.mark.parametrize("p", [0, 1, 2])
def test_transpose_conv_gives_the_input_gradients_bits(p):
    # conv_transpose2d's forward and conv2d's input gradient run the same Winograd pass (the
    # output gradient's blocks through U^T, then the transposed input transform)
    x, w = rnd(5, 16, 7, 9), rnd(16, 20, 3, 3)
    y = F.conv_transpose2d(from_np(x), from_np(w), padding=p)
    z = from_np(np.zeros(tuple(y.shape), np.float32), requires_grad=True)
    out = F.conv2d(z, from_np(w), None, 1, p)
    assert tuple(out.shape) == x.shape
    out.backward(from_np(x))
    assert np.array_equal(z.grad.numpy(), y.numpy())
