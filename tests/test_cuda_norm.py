"""CUDA batch_norm and layer_norm kernels against the CPU ones (skipped without a usable GPU):
training (batch statistics, running stats updated in place with the unbiased variance) and
eval, with and without affine parameters, forward and backward (input, weight and bias
gradients), 2-D to 4-D inputs, long rows / channels (one block each), zero-size batches."""
import numpy as np
import pytest

import ranvier
from helpers import NP_DTYPES, from_np, rand_np, host_np as host

pytestmark = pytest.mark.skipif(not ranvier.cuda.is_available(), reason="no CUDA device")
F = ranvier.nn.functional


def tol(dtype):
    return 2e-5 if dtype == ranvier.float32 else 1e-11


def grads_of(fn, arrays, dtype, dev, seed=5):
    ts = [None if a is None else from_np(a).to(dtype).to(dev).requires_grad_(True) for a in arrays]
    y = fn(*ts)
    gy = rand_np(tuple(y.shape), np.float64, rng=np.random.default_rng(seed))
    y.backward(from_np(gy).to(dtype).to(dev))
    return [host(y)] + [None if t is None else host(t.grad) for t in ts]


def compare(fn, arrays, dtype):
    cpu = grads_of(fn, arrays, dtype, "cpu")
    gpu = grads_of(fn, arrays, dtype, "cuda")
    for c, g in zip(cpu, gpu):
        if c is not None:
            np.testing.assert_allclose(g, c, rtol=tol(dtype), atol=tol(dtype))


@pytest.mark.parametrize("dtype", [ranvier.float32, ranvier.float64], ids=str)
@pytest.mark.parametrize("shape", [(8, 3), (4, 5, 7), (2, 3, 5, 6), (3, 2, 1000)])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_training(dtype, shape, affine):
    rng = np.random.default_rng(1)
    c = shape[1]
    x = rand_np(shape, NP_DTYPES[dtype], rng=rng, low=-2, high=5)
    w = rand_np((c,), NP_DTYPES[dtype], rng=rng) if affine else None
    b = rand_np((c,), NP_DTYPES[dtype], rng=rng) if affine else None
    stats = {}
    for dev in ("cpu", "cuda"):
        rm = ranvier.zeros(c, dtype=dtype, device=dev)
        rv = ranvier.ones(c, dtype=dtype, device=dev)
        fn = lambda xx, ww, bb: F.batch_norm(xx, rm, rv, ww, bb, training=True, momentum=0.3)
        stats[dev] = (grads_of(fn, [x, w, b], dtype, dev), host(rm), host(rv))
    for c_, g_ in zip(stats["cpu"][0], stats["cuda"][0]):
        if c_ is not None:
            np.testing.assert_allclose(g_, c_, rtol=tol(dtype), atol=tol(dtype))
    np.testing.assert_allclose(stats["cuda"][1], stats["cpu"][1], rtol=tol(dtype), atol=tol(dtype))
    np.testing.assert_allclose(stats["cuda"][2], stats["cpu"][2], rtol=tol(dtype), atol=tol(dtype))


@pytest.mark.parametrize("dtype", [ranvier.float32, ranvier.float64], ids=str)
def test_batch_norm_eval(dtype):
    rng = np.random.default_rng(2)
    x = rand_np((4, 3, 5), NP_DTYPES[dtype], rng=rng)
    rm = rand_np((3,), NP_DTYPES[dtype], rng=rng)
    rv = rand_np((3,), NP_DTYPES[dtype], rng=rng, low=0.5, high=2)
    w = rand_np((3,), NP_DTYPES[dtype], rng=rng)

    def fn(xx, ww):
        return F.batch_norm(xx, from_np(rm).to(xx.device), from_np(rv).to(xx.device), ww, None,
                            training=False)
    compare(fn, [x, w], dtype)


@pytest.mark.parametrize("dtype", [ranvier.float32, ranvier.float64], ids=str)
@pytest.mark.parametrize("shape,norm", [((6, 10), (10,)), ((2, 3, 4, 5), (4, 5)), ((3, 3000), (3000,)),
                                        ((5000, 4), (4,)), ((3000, 100), (100,)),
                                        ((2, 300, 70), (70,))])
@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm(dtype, shape, norm, affine):
    rng = np.random.default_rng(3)
    x = rand_np(shape, NP_DTYPES[dtype], rng=rng, low=-3, high=4)
    w = rand_np(norm, NP_DTYPES[dtype], rng=rng) if affine else None
    b = rand_np(norm, NP_DTYPES[dtype], rng=rng) if affine else None
    compare(lambda xx, ww, bb: F.layer_norm(xx, norm, ww, bb), [x, w, b], dtype)


def test_zero_size():
    y = F.layer_norm(ranvier.zeros(0, 4, device="cuda"), (4,))
    assert tuple(y.shape) == (0, 4) and y.device.type == "cuda"
    w = ranvier.full((4,), 2.0, device="cuda", requires_grad=True)
    b = ranvier.full((4,), 3.0, device="cuda", requires_grad=True)
    x = ranvier.zeros(0, 4, device="cuda", requires_grad=True)
    F.layer_norm(x, (4,), w, b).backward(ranvier.zeros(0, 4, device="cuda"))
    np.testing.assert_array_equal(host(w.grad), np.zeros(4, np.float32))
    np.testing.assert_array_equal(host(b.grad), np.zeros(4, np.float32))
