"""CUDA softmax / log_softmax / softmin kernels against the CPU ones (skipped without a usable
GPU): forward and backward over every dim, short rows (one warp per row) and long rows (one
block per row), non-contiguous and zero-size inputs, NaN and all -inf rows, float16/bfloat16
through the dtype argument, and repeatable results."""
import numpy as np
import pytest

import ranvier
from helpers import NP_DTYPES, from_np, rand_np, host_np as host, noncontiguous as nc

pytestmark = pytest.mark.skipif(not ranvier.cuda.is_available(), reason="no CUDA device")
F = ranvier.nn.functional


def tol(dtype):
    return {ranvier.float16: 3e-3, ranvier.bfloat16: 2e-2, ranvier.float32: 1e-5}.get(dtype, 1e-12)


def both(fn, a, dtype, grad_seed=None):
    """fn on CPU and CUDA copies of a; also the input gradient for a random output gradient."""
    out = []
    for dev in ("cpu", "cuda"):
        x = from_np(a).to(dtype).to(dev)
        if grad_seed is not None:
            x.requires_grad_(True)
        y = fn(x)
        assert y.device.type == dev
        g = None
        if grad_seed is not None:
            gy = rand_np(tuple(y.shape), np.float64, rng=np.random.default_rng(grad_seed))
            y.backward(from_np(gy).to(y.dtype).to(dev))
            g = host(x.grad)
        out.append((host(y), g))
    r = tol(dtype)
    np.testing.assert_allclose(out[1][0], out[0][0], rtol=r, atol=r, equal_nan=True)
    if grad_seed is not None:
        np.testing.assert_allclose(out[1][1], out[0][1], rtol=r, atol=r, equal_nan=True)


@pytest.mark.parametrize("dtype", [ranvier.float32, ranvier.float64], ids=str)
@pytest.mark.parametrize("fn", [F.softmax, F.log_softmax, F.softmin], ids=["softmax", "log_softmax", "softmin"])
@pytest.mark.parametrize("shape", [(7, 13), (3, 5, 9), (2, 3000), (4097,), (1, 1)])
def test_forward_backward(fn, dtype, shape):
    a = rand_np(shape, NP_DTYPES[dtype], rng=np.random.default_rng(1), low=-10, high=10)
    for dim in range(len(shape)):
        both(lambda x: fn(x, dim), a, dtype, grad_seed=2)


def test_noncontiguous_zero_size_and_special_rows():
    a = rand_np((6, 10), np.float32, rng=np.random.default_rng(3))
    for dev_fn in (lambda x: F.softmax(nc(x), 1), lambda x: F.log_softmax(x.t(), 0)):
        both(dev_fn, a, ranvier.float32)
    both(lambda x: F.softmax(x, 1), np.zeros((0, 5), np.float32), ranvier.float32)
    both(lambda x: F.softmax(x, 0), np.zeros((0, 5), np.float32), ranvier.float32)
    special = np.array([[1.0, np.nan, 2.0], [-np.inf, -np.inf, -np.inf], [0.0, -np.inf, 1.0]],
                       dtype=np.float32)
    both(lambda x: F.softmax(x, 1), special, ranvier.float32)
    both(lambda x: F.log_softmax(x, 1), special, ranvier.float32)


@pytest.mark.parametrize("dtype", [ranvier.float16, ranvier.bfloat16], ids=str)
def test_reduced_precision_inputs(dtype):
    a = rand_np((5, 33), np.float32, rng=np.random.default_rng(4))
    both(lambda x: F.softmax(x, 1), a, dtype)
    both(lambda x: F.log_softmax(x, 1, dtype=ranvier.float32), a, dtype)


def test_repeatable():
    x = ranvier.randn(3, 50000).cuda()
    first = host(F.softmax(x, 1))
    np.testing.assert_array_equal(host(F.softmax(x, 1)), first)
