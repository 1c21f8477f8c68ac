"""conv2d of one input channel with a 3x3 kernel and stride 1 (the direct AVX-512 float32
kernels where the CPU has them): forward, weight and bias gradients against NumPy for odd
sizes, rows wider than one 16-column vector, padding 0-2, batches across several gradient
chunks, infinities next to the image edge, the input gradient, float64 (other path), and the
same bits for any thread count."""
import numpy as np
import pytest

import ranvier
import ranvier.nn.functional as F
from helpers import from_np, gradcheck
from test_nn_conv import np_conv2d
from test_nn_conv_backward_fused import np_conv2d_grads

RNG = np.random.default_rng(5)


def rnd(*shape, dtype=np.float32):
    return RNG.uniform(-1, 1, size=shape).astype(dtype)


CASES = [  # N, H, W, O, pad
    (64, 28, 28, 32, 1), (3, 5, 7, 4, 1), (17, 9, 33, 5, 0), (2, 3, 40, 3, 2), (9, 1, 1, 6, 1),
    (1, 16, 16, 1, 1), (10, 6, 17, 7, 2),
]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("bias", [True, False])
def test_single_channel_matches_numpy(case, bias):
    n, h, w, o, p = case
    x, wt, b = rnd(n, 1, h, w), rnd(o, 1, 3, 3), rnd(o)
    tw, tb = from_np(wt, requires_grad=True), from_np(b, requires_grad=True) if bias else None
    y = F.conv2d(from_np(x), tw, tb, 1, p)
    ref = np_conv2d(x.astype(np.float64), wt.astype(np.float64),
                    b.astype(np.float64) if bias else None, pad=(p, p))
    np.testing.assert_allclose(y.detach().numpy(), ref, rtol=1e-5, atol=1e-5)
    gout = rnd(*ref.shape)
    y.backward(from_np(gout))
    _, dw, db = np_conv2d_grads(x, wt, gout, (1, 1), (p, p), (1, 1), 1)
    np.testing.assert_allclose(tw.grad.numpy(), dw, rtol=1e-4, atol=1e-4)
    if bias:
        np.testing.assert_allclose(tb.grad.numpy(), db, rtol=1e-4, atol=1e-4)


def test_single_channel_input_gradient_and_float64():
    x, wt, b = rnd(5, 1, 7, 9), rnd(4, 1, 3, 3), rnd(4)
    tx, tw = from_np(x, requires_grad=True), from_np(wt, requires_grad=True)
    y = F.conv2d(tx, tw, from_np(b), 1, 1)
    gout = rnd(*tuple(y.shape))
    y.backward(from_np(gout))
    dx, dw, _ = np_conv2d_grads(x, wt, gout, (1, 1), (1, 1), (1, 1), 1)
    np.testing.assert_allclose(tx.grad.numpy(), dx, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(tw.grad.numpy(), dw, rtol=1e-4, atol=1e-4)
    x64, w64 = rnd(2, 1, 5, 6, dtype=np.float64), rnd(3, 1, 3, 3, dtype=np.float64)
    assert gradcheck(lambda a, c: F.conv2d(a, c, None, 1, 1), x64, w64)


@pytest.mark.parametrize("width", [20, 21])
def test_values_beyond_the_output_columns_do_not_leak(width):
    # 20 or 21 columns, padding 1: the second 16-wide block has 4 or 5 real output columns; the
    # input's last column (an infinity) lies under that block's unused lanes for the left kernel
    # taps (with 21, under the unused last lane of the block's odd columns, which AVX2's weight
    # gradient keeps apart from the even ones). Only outputs whose windows cover it may see it,
    # and the left-tap weight gradient (kernel column 0 never reads the last input column) must
    # stay finite.
    x = rnd(2, 1, 6, width)
    x[:, :, :, -1] = np.inf
    wt = rnd(3, 1, 3, 3)
    tw = from_np(wt, requires_grad=True)
    y = F.conv2d(from_np(x), tw, None, 1, 1)
    with np.errstate(invalid="ignore"):
        ref = np_conv2d(x.astype(np.float64), wt.astype(np.float64), pad=(1, 1))
    got = y.detach().numpy()
    assert np.array_equal(np.isfinite(got), np.isfinite(ref))
    fin = np.isfinite(ref)
    np.testing.assert_allclose(got[fin], ref[fin], rtol=1e-5, atol=1e-5)
    y.backward(from_np(np.ones(ref.shape, np.float32)))
    _, dw, _ = np_conv2d_grads(np.where(np.isinf(x), 0, x), wt, np.ones(ref.shape), (1, 1),
                               (1, 1), (1, 1), 1)
    assert np.isfinite(tw.grad.numpy()[:, :, :, 0]).all()
    np.testing.assert_allclose(tw.grad.numpy()[:, :, :, 0], dw[:, :, :, 0], rtol=1e-4, atol=1e-4)
    assert not np.isfinite(tw.grad.numpy()[:, :, :, 2]).any()


@pytest.mark.parametrize("n", [5, 21])
def test_single_channel_same_bits_any_thread_count(n):
    x, wt, b, gout = rnd(n, 1, 13, 21), rnd(6, 1, 3, 3), rnd(6), rnd(n, 6, 13, 21)

    def run(threads):
        old = ranvier.get_num_threads()
        ranvier.set_num_threads(threads)
        try:
            tw, tb = from_np(wt, requires_grad=True), from_np(b, requires_grad=True)
            y = F.conv2d(from_np(x), tw, tb, 1, 1)
            y.backward(from_np(gout))
            return [t.numpy().copy() for t in (y.detach(), tw.grad, tb.grad)]
        finally:
            ranvier.set_num_threads(old)

    ref = run(1)
    for threads in (2, 3):
        for a, c in zip(ref, run(threads)):
            assert np.array_equal(a, c)
