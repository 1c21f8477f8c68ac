"""The fused convolution and pooling ops: float64 finite-difference gradients of every option
(stride, padding incl. 'same', dilation, groups, bias, 1x1, output_padding, batches spanning
several weight-gradient chunks), double backward, bitwise equality for 1 and 2 threads, and the
checks of the C++ ops called directly."""
import numpy as np
import pytest

import ranvier
import ranvier.nn.functional as F
from helpers import from_np, gradcheck, gradgradcheck

RNG = np.random.default_rng(4321)


def rnd(*shape, dtype=np.float64):
    return RNG.uniform(-1, 1, size=shape).astype(dtype)


CONV_GRAD_CASES = [
    # N, C, H, W, O, (kh, kw), stride, pad, dil, groups, bias
    (2, 3, 5, 4, 4, (3, 3), (1, 1), (1, 1), (1, 1), 1, True),
    (1, 4, 6, 5, 6, (3, 2), (2, 1), (1, 0), (1, 1), 2, False),
    (2, 2, 6, 6, 3, (2, 2), (1, 2), (1, 1), (2, 1), 1, True),
    (2, 4, 4, 5, 4, (3, 3), (1, 1), (1, 1), (1, 1), 4, True),   # depthwise: direct kernels
    (2, 3, 7, 6, 3, (3, 2), (2, 1), (1, 1), (2, 1), 3, True),   # depthwise, strided, dilated
    (2, 1, 5, 6, 3, (3, 3), (1, 2), (1, 1), (1, 1), 1, True),   # one input channel
    (2, 4, 4, 3, 6, (1, 1), (1, 1), (0, 0), (1, 1), 2, True),   # pointwise: no im2col
    (1, 2, 7, 7, 3, (3, 2), (2, 3), (1, 1), (2, 2), 1, True),
    (10, 2, 4, 4, 3, (3, 3), (1, 1), (1, 1), (1, 1), 1, True),  # two weight-gradient chunks
    (3, 8, 4, 4, 2, (3, 3), (1, 1), (1, 1), (1, 1), 1, True),   # K = 72: chunked forward GEMM
    (2, 16, 3, 4, 4, (3, 3), (2, 1), (1, 1), (1, 1), 2, False),  # K = 72 per group
]


@pytest.mark.parametrize("n", [1, 5, 40])
def test_chunked_forward_matches_numpy(n):
    from test_nn_conv import np_conv2d
    x, w, b = rnd(n, 12, 6, 5, dtype=np.float32), rnd(8, 6, 3, 3, dtype=np.float32), rnd(8)
    b = b.astype(np.float32)
    out = F.conv2d(from_np(x), from_np(w), from_np(b), 1, 1, 1, 2)
    ref = np_conv2d(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64),
                    pad=(1, 1), groups=2)
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("case", CONV_GRAD_CASES)
def test_conv2d_gradcheck(case):
    n, c, h, w, o, k, s, p, d, g, has_bias = case
    arrays = [rnd(n, c, h, w), rnd(o, c // g, *k)] + ([rnd(o)] if has_bias else [])
    assert gradcheck(lambda x, wt, *b: F.conv2d(x, wt, b[0] if b else None, s, p, d, g),
                     *arrays)


TRANSPOSE_GRAD_CASES = [
    # N, C_in, H, W, C_out/groups, (kh, kw), stride, pad, out_pad, groups, dil, bias
    (2, 3, 3, 4, 2, (3, 3), (1, 1), (0, 0), (0, 0), 1, (1, 1), True),
    (1, 4, 3, 3, 3, (3, 2), (2, 2), (1, 0), (1, 1), 2, (1, 1), False),
    (2, 2, 4, 3, 2, (2, 3), (2, 1), (1, 1), (1, 0), 1, (1, 2), True),
    (1, 2, 3, 3, 2, (3, 3), (1, 1), (0, 0), (1, 1), 1, (2, 2), True),  # out_pad >= stride
    (2, 4, 3, 3, 1, (1, 1), (1, 1), (0, 0), (0, 0), 4, (1, 1), True),  # pointwise, depthwise
    (1, 3, 3, 4, 1, (3, 3), (2, 2), (1, 1), (1, 0), 3, (1, 1), True),  # depthwise, strided
    (9, 2, 3, 3, 2, (3, 3), (2, 2), (1, 1), (0, 0), 1, (1, 1), True),  # two chunks
    (3, 2, 3, 3, 8, (3, 3), (2, 2), (1, 1), (1, 1), 1, (1, 1), True),  # K = 72: chunked GEMM
]


@pytest.mark.parametrize("case", TRANSPOSE_GRAD_CASES)
def test_conv_transpose2d_gradcheck(case):
    n, c, h, w, og, k, s, p, op, g, d, has_bias = case
    arrays = [rnd(n, c, h, w), rnd(c, og, *k)] + ([rnd(og * g)] if has_bias else [])
    assert gradcheck(lambda x, wt, *b: F.conv_transpose2d(x, wt, b[0] if b else None, s, p, op,
                                                          g, d), *arrays)


def test_conv1d_and_transpose1d_gradcheck():
    assert gradcheck(lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=1, dilation=2),
                     rnd(2, 3, 9), rnd(4, 3, 3), rnd(4))
    assert gradcheck(lambda x, w: F.conv1d(x, w, padding="same", groups=2),
                     rnd(2, 4, 7), rnd(4, 2, 4))
    assert gradcheck(lambda x, w, b: F.conv_transpose1d(x, w, b, stride=2, padding=1,
                                                        output_padding=1),
                     rnd(2, 3, 5), rnd(3, 2, 3), rnd(2))


def test_conv2d_same_padding_gradcheck():
    assert gradcheck(lambda x, w: F.conv2d(x, w, padding="same", dilation=(1, 2)),
                     rnd(1, 2, 5, 6), rnd(3, 2, 2, 3))


def test_double_backward():
    assert gradgradcheck(lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1, groups=2),
                         rnd(2, 4, 5, 5), rnd(4, 2, 3, 3), rnd(4))
    assert gradgradcheck(lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1,
                                                            output_padding=1),
                         rnd(2, 2, 3, 3), rnd(2, 3, 3, 3), rnd(3))
    assert gradgradcheck(lambda x: F.max_pool2d(x, 3, 2, 1, ceil_mode=True) ** 2,
                         rnd(2, 2, 6, 5))
    assert gradgradcheck(lambda x: F.adaptive_avg_pool2d(x, (2, 3)) ** 2, rnd(1, 2, 5, 7))


def test_pool_gradcheck():
    x = rnd(2, 3, 7, 6)
    assert gradcheck(lambda t: F.max_pool2d(t, (3, 2), (2, 1), (1, 1), (1, 2), True), x)
    assert gradcheck(lambda t: F.avg_pool2d(t, 3, 2, 1, True, False), x)
    assert gradcheck(lambda t: F.avg_pool2d(t, (2, 3), 1, (1, 0), False, True), x)
    assert gradcheck(lambda t: F.avg_pool2d(t, 2, divisor_override=3), x)
    assert gradcheck(lambda t: F.adaptive_avg_pool2d(t, (3, 4)), x)
    assert gradcheck(lambda t: F.adaptive_max_pool2d(t, (4, 3)), x)
    assert gradcheck(lambda t: F.adaptive_avg_pool1d(t, 4), rnd(2, 3, 9))


def _run_all(threads, arrays):
    """Forward and backward values of every fused op at a thread count (float32)."""
    old = ranvier.get_num_threads()
    ranvier.set_num_threads(threads)
    try:
        x, w, wt, b = [from_np(a, requires_grad=True) for a in arrays]
        y = F.conv2d(x, w, b, padding=1)
        z = F.max_pool2d(ranvier.relu(y), 2)
        t = F.conv_transpose2d(z, wt, None, stride=2, padding=1, output_padding=1)
        loss = (t * t).sum() + F.avg_pool2d(y, 3, 2, 1).sum() + F.conv2d(x, w[:, :, :1, :1]).sum()
        loss = loss + (F.conv2d(y, w[:, :1], None, 2, 1, 1, 16) ** 2).sum()  # depthwise
        loss.backward()
        return [v.detach().numpy().copy() for v in (y, z, t, x.grad, w.grad, wt.grad, b.grad)]
    finally:
        ranvier.set_num_threads(old)


@pytest.mark.parametrize("batch", [19, 1])
def test_bitwise_identical_for_one_and_two_threads(batch):
    arrays = [rnd(batch, 8, 12, 11, dtype=np.float32), rnd(16, 8, 3, 3, dtype=np.float32),
              rnd(16, 4, 3, 3, dtype=np.float32), rnd(16, dtype=np.float32)]
    one, two = _run_all(1, arrays), _run_all(2, arrays)
    for a, b in zip(one, two):
        assert a.shape == b.shape
        assert np.array_equal(a, b)


def test_direct_op_errors():
    x, w = ranvier.zeros(1, 4, 5, 5), ranvier.zeros(2, 2, 3, 3)
    with pytest.raises(RuntimeError, match=r"conv2d: expected a 4-D input.*\[4, 5, 5\]"):
        ranvier._C._conv2d(ranvier.zeros(4, 5, 5), w, None, (1, 1), (0, 0), (1, 1), 2)
    with pytest.raises(RuntimeError, match="conv2d: Given groups=1, weight of size"):
        ranvier._C._conv2d(x, w, None, (1, 1), (0, 0), (1, 1), 1)
    with pytest.raises(RuntimeError, match="conv2d: non-positive stride"):
        ranvier._C._conv2d(x, w, None, (0, 1), (0, 0), (1, 1), 2)
    with pytest.raises(RuntimeError, match="conv2d: expected bias to be 1-D with 2 elements"):
        ranvier._C._conv2d(x, w, ranvier.zeros(3), (1, 1), (0, 0), (1, 1), 2)
    with pytest.raises(TypeError, match="conv2d: expected input, weight and bias of one dtype"):
        ranvier._C._conv2d(x, w.double(), None, (1, 1), (0, 0), (1, 1), 2)
    with pytest.raises(TypeError, match="conv2d: expected float32 or float64"):
        ranvier._C._conv2d(x.long(), w.long(), None, (1, 1), (0, 0), (1, 1), 2)
    with pytest.raises(RuntimeError, match="conv2d: Calculated padded input size"):
        ranvier._C._conv2d(ranvier.zeros(1, 4, 2, 2), w, None, (1, 1), (0, 0), (1, 1), 2)
    with pytest.raises(RuntimeError, match="conv_transpose2d: output padding must be smaller"):
        ranvier._C._conv_transpose2d(ranvier.zeros(1, 2, 3, 3), w, None, (1, 1), (0, 0), (1, 1),
                                     (1, 1), 1)
    with pytest.raises(RuntimeError, match="conv_transpose2d: Given transposed=1"):
        ranvier._C._conv_transpose2d(x, w, None, (1, 1), (0, 0), (0, 0), (1, 1), 1)
    with pytest.raises(RuntimeError, match="max_pool2d.*expected a 4-D input"):
        ranvier._C._max_pool2d(ranvier.zeros(4, 5, 5), (2, 2), (2, 2), (0, 0), (1, 1), False)
    with pytest.raises(RuntimeError, match="avg_pool2d.*pad should be at most half"):
        ranvier._C._avg_pool2d(x, (2, 2), (2, 2), (2, 0), False, True, 0)
    with pytest.raises(TypeError, match="adaptive_avg_pool2d.*float32 or float64"):
        ranvier._C._adaptive_avg_pool2d(x.long(), (2, 2))


def test_zero_size_pool_and_conv_backward():
    x = ranvier.zeros(0, 3, 4, 4, requires_grad=True)
    F.max_pool2d(x, 2).sum().backward()
    assert tuple(x.grad.shape) == (0, 3, 4, 4)
    w = ranvier.zeros(2, 3, 3, 3, requires_grad=True)
    F.conv2d(x, w).sum().backward()
    assert np.array_equal(w.grad.numpy(), np.zeros((2, 3, 3, 3), np.float32))
    w2 = ranvier.zeros(3, 2, 3, 3, requires_grad=True)
    F.conv_transpose2d(ranvier.zeros(0, 3, 2, 2), w2, stride=2).sum().backward()
    assert np.array_equal(w2.grad.numpy(), np.zeros((3, 2, 3, 3), np.float32))
