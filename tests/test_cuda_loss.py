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


def np_cross_entropy(z, t, w, smoothing, ignore=-100):
    """Per-sample loss and d loss / d z of (N, C) logits in float64 NumPy."""
    n, c = z.shape
    w = np.ones(c) if w is None else w
    lp = z - z.max(1, keepdims=True)
    lp = lp - np.log(np.exp(lp).sum(1, keepdims=True))
    loss, grad = np.zeros(n), np.zeros_like(z)
    for i in range(n):
        if t[i] == ignore:
            continue
        wt = w[t[i]]
        loss[i] = -(1 - smoothing) * wt * lp[i, t[i]] - smoothing / c * (w * lp[i]).sum()
        grad[i] = (np.exp(lp[i]) * ((1 - smoothing) * wt + smoothing * w.sum() / c)
                   - smoothing / c * w)
        grad[i, t[i]] -= (1 - smoothing) * wt
    return loss, grad


@pytest.mark.parametrize("dtype", [ranvier.bfloat16, ranvier.float16], ids=str)
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
@pytest.mark.parametrize("weighted", [False, True])
def test_16_bit_logits_float32_loss(dtype, smoothing, weighted):
    """dtype=float32 with 16-bit logits (what autocast asks for): the CUDA kernels read the
    logits in place and compute in double; the loss is float32, the logits' gradient 16-bit;
    against float64 NumPy on the rounded logits."""
    rng = np.random.default_rng(4)
    z = from_np(rand_np((7, 3000), np.float32, rng=rng, low=-6, high=6)).to(dtype)
    t = rng.integers(0, 3000, size=7).astype(np.int64)
    t[2] = -100
    w = rng.uniform(0.5, 2, size=3000) if weighted else None
    zc = z.cuda().requires_grad_(True)
    wc = None if w is None else from_np(w.astype(np.float32)).cuda()
    loss = F.cross_entropy(zc, from_np(t).cuda(), weight=wc, reduction="none",
                           label_smoothing=smoothing, dtype=ranvier.float32)
    g = rng.uniform(0.5, 1.5, size=7)
    loss.backward(from_np(g.astype(np.float32)).cuda())
    assert loss.dtype == ranvier.float32 and zc.grad.dtype == dtype
    wf = None if w is None else host(from_np(w.astype(np.float32)).double())
    ref_loss, ref_grad = np_cross_entropy(host(z.double()), t, wf, smoothing)
    np.testing.assert_allclose(host(loss.double()), ref_loss, rtol=1e-6, atol=1e-6)
    step = 2.0 ** -7 if dtype == ranvier.bfloat16 else 2.0 ** -10
    np.testing.assert_allclose(host(zc.grad.double()), ref_grad * g[:, None], rtol=step,
                               atol=1e-6)


def test_16_bit_logits_under_autocast_and_without():
    """Under CUDA autocast cross_entropy gets dtype=float32 (the logits stay 16-bit); without,
    16-bit logits give a 16-bit loss, as on the CPU."""
    rng = np.random.default_rng(5)
    z = from_np(rand_np((5, 40), np.float32, rng=rng, low=-3, high=3)).to(ranvier.bfloat16)
    t = from_np(rng.integers(0, 40, size=5).astype(np.int64))
    with ranvier.autocast(device_type="cuda", dtype=ranvier.bfloat16):
        got = F.cross_entropy(z.cuda(), t.cuda())
    exp = F.cross_entropy(z.float(), t)
    assert got.dtype == ranvier.float32
    np.testing.assert_allclose(host(got), host(exp), rtol=1e-6)
    plain = F.cross_entropy(z.cuda(), t.cuda())
    assert plain.dtype == ranvier.bfloat16
    assert host(plain.double()) == host(F.cross_entropy(z, t).double())
