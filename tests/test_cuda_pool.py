"""CUDA pooling kernels against the CPU ones (skipped without a usable GPU): max_pool2d (values
and indices; padding, stride, dilation, ceil_mode, ties, NaN), avg_pool2d (count_include_pad,
divisor_override, ceil_mode), the adaptive forms and the 1-D forms, forward and backward
(bitwise: the kernels add in the CPU's order), float32 and float64, zero-size batches."""
import numpy as np
import pytest

import ranvier
from helpers import NP_DTYPES, from_np, host_np as host

pytestmark = pytest.mark.skipif(not ranvier.cuda.is_available(), reason="no CUDA device")
F = ranvier.nn.functional


def both(fn, a, dtype, seed=1):
    """fn's outputs and the input gradient (for a random output gradient) on CPU and CUDA."""
    res = []
    for dev in ("cpu", "cuda"):
        x = from_np(a).to(dtype).to(dev).requires_grad_(True)
        out = fn(x)
        outs = out if isinstance(out, tuple) else (out,)
        assert outs[0].device.type == dev
        gy = np.random.default_rng(seed).integers(-4, 5, size=tuple(outs[0].shape)) * 0.25
        outs[0].backward(from_np(gy).to(dtype).to(dev))
        res.append([host(o) for o in outs] + [host(x.grad)])
    for c, g in zip(res[0], res[1]):
        np.testing.assert_array_equal(g, c)


def data(shape, dtype, seed=0, nan=False):
    a = (np.random.default_rng(seed).integers(-3, 4, size=shape) * 0.5).astype(NP_DTYPES[dtype])
    if nan:
        a.flat[5] = np.nan
        a.flat[17] = np.nan
    return a


@pytest.mark.parametrize("dtype", [ranvier.float32, ranvier.float64], ids=str)
@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                                dict(kernel_size=3, stride=1, dilation=2),
                                dict(kernel_size=3, stride=2, ceil_mode=True),
                                dict(kernel_size=(2, 3), stride=(1, 2), padding=(1, 0))],
                         ids=str)
def test_max_pool2d(dtype, kw):
    for nan in (False, True):
        both(lambda x: F.max_pool2d(x, return_indices=True, **kw), data((2, 3, 9, 10), dtype, nan=nan), dtype)


@pytest.mark.parametrize("dtype", [ranvier.float32, ranvier.float64], ids=str)
@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                                dict(kernel_size=3, stride=2, padding=1, count_include_pad=False),
                                dict(kernel_size=3, stride=2, ceil_mode=True),
                                dict(kernel_size=2, divisor_override=3)], ids=str)
def test_avg_pool2d(dtype, kw):
    both(lambda x: F.avg_pool2d(x, **kw), data((2, 3, 9, 10), dtype), dtype)


@pytest.mark.parametrize("dtype", [ranvier.float32, ranvier.float64], ids=str)
def test_adaptive_and_1d(dtype):
    a = data((2, 3, 10, 7), dtype)
    both(lambda x: F.adaptive_avg_pool2d(x, (4, 3)), a, dtype)
    both(lambda x: F.adaptive_max_pool2d(x, (4, 3), return_indices=True), a, dtype)
    both(lambda x: F.adaptive_avg_pool2d(x, 1), a, dtype)
    b = data((2, 3, 11), dtype)
    both(lambda x: F.max_pool1d(x, 3, stride=2, padding=1), b, dtype)
    both(lambda x: F.avg_pool1d(x, 2), b, dtype)


def test_zero_size():
    y = F.max_pool2d(ranvier.zeros(0, 3, 4, 4, device="cuda"), 2)
    assert tuple(y.shape) == (0, 3, 2, 2) and y.device.type == "cuda"
