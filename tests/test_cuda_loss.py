"""CUDA cross_entropy kernels against the CPU ones (skipped without a usable GPU): class-index
targets with class weights, ignore_index, label smoothing and every reduction, (N, C), (C,) and
(N, C, d1, d2) inputs, many classes (one block per sample), forward and backward, and the
IndexError for a target out of range."""
import numpy as np
import pytest

import ranvier
from helpers import NP_DTYPES, from_np, rand_np, host_np as host

pytestmark = pytest.mark.skipif(not ranvier.cuda.is_available(), reason="no CUDA device")
F = ranvier.nn.functional


def run(dev, logits, target, weight, dtype, **kw):
    x = from_np(logits).to(dtype).to(dev).requires_grad_(True)
    t = from_np(target).to(dev)
    w = None if weight is None else from_np(weight).to(dtype).to(dev)
    loss = F.cross_entropy(x, t, weight=w, **kw)
    assert loss.device.type == dev
    if loss.dim():
        loss.backward(from_np(np.linspace(0.5, 1.5, loss.numel()).reshape(tuple(loss.shape))).to(dtype).to(dev))
    else:
        loss.backward()
    return host(loss), host(x.grad)


@pytest.mark.parametrize("dtype", [ranvier.float32, ranvier.float64], ids=str)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("shape", [(6, 5), (5,), (3, 4, 2, 3), (4, 3000)])
def test_cross_entropy(dtype, reduction, smoothing, weighted, shape):
    rng = np.random.default_rng(1)
    c = shape[1] if len(shape) > 1 else shape[0]
    logits = rand_np(shape, NP_DTYPES[dtype], rng=rng, low=-4, high=4)
    tshape = () if len(shape) == 1 else (shape[0],) + shape[2:]
    target = rng.integers(0, c, size=tshape).astype(np.int64)
    if target.ndim:
        target.flat[0] = -100  # ignored
    weight = rand_np((c,), NP_DTYPES[dtype], rng=rng, low=0.2, high=2) if weighted else None
    kw = dict(reduction=reduction, label_smoothing=smoothing)
    cpu = run("cpu", logits, target, weight, dtype, **kw)
    gpu = run("cuda", logits, target, weight, dtype, **kw)
    r = 2e-5 if dtype == ranvier.float32 else 1e-11
    np.testing.assert_allclose(gpu[0], cpu[0], rtol=r, atol=r)
    np.testing.assert_allclose(gpu[1], cpu[1], rtol=r, atol=r)


def test_custom_ignore_index_and_zero_size():
    logits = rand_np((5, 4), np.float64, rng=np.random.default_rng(2))
    target = np.array([1, 3, 3, 0, 2], dtype=np.int64)
    cpu = run("cpu", logits, target, None, ranvier.float64, ignore_index=3)
    gpu = run("cuda", logits, target, None, ranvier.float64, ignore_index=3)
    np.testing.assert_allclose(gpu[0], cpu[0], rtol=1e-12)
    np.testing.assert_allclose(gpu[1], cpu[1], rtol=1e-12, atol=1e-15)
    z = F.cross_entropy(ranvier.zeros(0, 4, device="cuda"),
                        ranvier.zeros(0, dtype=ranvier.int64, device="cuda"), reduction="sum")
    assert z.device.type == "cuda" and float(z.cpu()) == 0.0


def test_target_out_of_range_raises():
    x = ranvier.zeros(3, 4, device="cuda")
    for bad in (4, -1):
        t = ranvier.tensor([0, bad, 1]).cuda()
        with pytest.raises(IndexError, match=f"target {bad} is out of bounds"):
            F.cross_entropy(x, t)
    # the device is still usable afterwards
    assert float(F.cross_entropy(x, ranvier.tensor([0, 1, 2]).cuda()).cpu()) == pytest.approx(np.log(4))
