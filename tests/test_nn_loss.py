"""Losses: cross_entropy (fused) and nll_loss with every option, and the composite losses,
against NumPy formulas; float64 gradchecks; error cases; modules."""
import math

import numpy as np
import pytest

import ranvier
import ranvier.nn as nn
import ranvier.nn.functional as F
from helpers import assert_close, from_np, gradcheck, noncontiguous, rand_np


def np_log_softmax(x, dim):
    m = np.max(x, axis=dim, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=dim, keepdims=True))


def np_cross_entropy(x, t, weight=None, ignore_index=-100, reduction="mean", ls=0.0):
    """Reference for class-index targets; x is (N, C, *) or (C,)."""
    if x.ndim == 1:
        x, t = x[None], np.array([t])
        squeeze = True
    else:
        squeeze = False
    c = x.shape[1]
    lp = np.moveaxis(np_log_softmax(x, 1), 1, -1).reshape(-1, c)
    tf = t.reshape(-1)
    w = np.ones(c) if weight is None else weight
    loss = np.zeros(len(tf))
    wt = np.zeros(len(tf))
    for i, k in enumerate(tf):
        if k == ignore_index:
            continue
        loss[i] = -(1 - ls) * w[k] * lp[i, k] - ls / c * (w * lp[i]).sum()
        wt[i] = w[k]
    if reduction == "none":
        out = loss.reshape(t.shape)
        return out[0] if squeeze else out
    if reduction == "sum":
        return loss.sum()
    return loss.sum() / wt.sum()


RNG = np.random.default_rng(0)


@pytest.mark.parametrize("shape", [(4, 5), (3, 4, 2), (2, 3, 2, 2), (5,)])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ls", [0.0, 0.2])
def test_cross_entropy_forward(shape, reduction, weighted, ls, device):
    x = rand_np(shape, np.float64)
    c = shape[1] if len(shape) > 1 else shape[0]
    tshape = shape[:1] + shape[2:] if len(shape) > 1 else ()
    t = RNG.integers(0, c, size=tshape).astype(np.int64)
    if len(tshape):
        t.reshape(-1)[0] = -100  # one ignored sample
    w = RNG.uniform(0.5, 2.0, size=c) if weighted else None
    out = F.cross_entropy(from_np(x, device), from_np(t, device),
                          weight=None if w is None else from_np(w, device),
                          reduction=reduction, label_smoothing=ls)
    assert_close(out, np.asarray(np_cross_entropy(x, t, w, -100, reduction, ls)), rtol=1e-10,
                 atol=1e-12)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("ls", [0.0, 0.3])
def test_cross_entropy_gradcheck(reduction, ls):
    x = rand_np((3, 4, 2), np.float64)
    t = from_np(np.array([[0, 3], [2, -100], [1, 1]], dtype=np.int64))
    w = from_np(np.array([0.5, 1.0, 2.0, 1.5]))
    for weight in (None, w):
        assert gradcheck(lambda a: F.cross_entropy(a, t, weight=weight, reduction=reduction,
                                                   label_smoothing=ls), x)
    t1 = from_np(np.array([[0, 3], [2, 1], [1, 1]], dtype=np.int64))
    assert gradcheck(lambda a: F.cross_entropy(a, t1, ignore_index=1, reduction=reduction,
                                               label_smoothing=ls), x)


def test_cross_entropy_ignore_index_and_float32_noncontiguous():
    x = rand_np((4, 3), np.float32)
    t = np.array([0, 2, 1, 2], dtype=np.int64)
    out = F.cross_entropy(noncontiguous(from_np(x)), from_np(t), ignore_index=2)
    assert out.dtype == ranvier.float32
    ref = np_cross_entropy(x.astype(np.float64), t, ignore_index=2)
    assert_close(out, np.float32(ref), rtol=1e-5)
    a = from_np(x, requires_grad=True)
    F.cross_entropy(a, from_np(t), ignore_index=2).backward()
    g = a.grad.numpy()
    assert np.all(g[[1, 3]] == 0)
    p = np.exp(np_log_softmax(x.astype(np.float64), 1))
    onehot = np.eye(3)[t]
    expect = (p - onehot)[[0, 2]] / 2
    np.testing.assert_allclose(g[[0, 2]], expect, rtol=1e-5, atol=1e-6)


def test_cross_entropy_probability_targets():
    x = rand_np((3, 4, 2), np.float64)
    q = np.exp(np_log_softmax(rand_np((3, 4, 2), np.float64, rng=np.random.default_rng(5)), 1))
    w = np.array([0.5, 1.0, 2.0, 1.5])
    for ls in (0.0, 0.1):
        qq = q * (1 - ls) + ls / 4
        per = -(np_log_softmax(x, 1) * qq * w[None, :, None]).sum(1)
        out = F.cross_entropy(from_np(x), from_np(q), weight=from_np(w), label_smoothing=ls)
        assert_close(out, np.asarray(per.sum() / 6), rtol=1e-10)
        out = F.cross_entropy(from_np(x), from_np(q), reduction="none", label_smoothing=ls,
                              weight=from_np(w))
        assert_close(out, per, rtol=1e-10)
    assert gradcheck(lambda a, b: F.cross_entropy(a, b, label_smoothing=0.1), x, q)


def test_cross_entropy_zero_size_and_all_ignored():
    out = F.cross_entropy(ranvier.zeros(0, 3), ranvier.zeros(0, dtype=ranvier.int64),
                          reduction="sum")
    assert float(out) == 0.0
    out = F.cross_entropy(ranvier.zeros(2, 3), ranvier.tensor([-100, -100]))
    assert math.isnan(float(out))


def test_cross_entropy_errors():
    x = ranvier.zeros(2, 3)
    with pytest.raises(IndexError, match="target 3 is out of bounds for 3 classes"):
        F.cross_entropy(x, ranvier.tensor([0, 3]))
    with pytest.raises(IndexError, match="target -2 is out of bounds"):
        F.cross_entropy(x, ranvier.tensor([-2, 0]))
    with pytest.raises(ValueError, match="batch_size"):
        F.cross_entropy(x, ranvier.tensor([0, 1, 2]))
    with pytest.raises(RuntimeError, match="cross_entropy.*int64"):
        F.cross_entropy(x, ranvier.tensor([0, 1], dtype=ranvier.int32))
    with pytest.raises(RuntimeError, match="weight of 3 elements"):
        F.cross_entropy(x, ranvier.tensor([0, 1]), weight=ranvier.ones(4))
    with pytest.raises(ValueError, match="reduction"):
        F.cross_entropy(x, ranvier.tensor([0, 1]), reduction="avg")
    with pytest.raises(ValueError, match="label_smoothing"):
        F.cross_entropy(x, ranvier.tensor([0, 1]), label_smoothing=1.5)
    a = ranvier.zeros(2, 3, dtype=ranvier.float64).requires_grad_()
    loss = F.cross_entropy(a, ranvier.tensor([0, 1]))
    with pytest.raises(NotImplementedError, match="cross_entropy: double backward"):
        ranvier.autograd.grad(loss, a, create_graph=True)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_nll_loss(reduction):
    x = np_log_softmax(rand_np((4, 3, 2), np.float64), 1)
    t = np.array([[0, 2], [1, -100], [2, 2], [0, 1]], dtype=np.int64)
    w = np.array([1.0, 0.5, 2.0])
    for weight in (None, w):
        # nll on log-probabilities equals cross_entropy on the logits it came from
        ref = np_cross_entropy(x, t, weight, -100, reduction)
        out = F.nll_loss(from_np(x), from_np(t), weight=None if weight is None else from_np(w),
                         reduction=reduction)
        assert_close(out, np.asarray(ref), rtol=1e-10, atol=1e-12)
        assert gradcheck(lambda a: F.nll_loss(a, from_np(t), reduction=reduction,
                                              weight=None if weight is None else from_np(w)), x)
    with pytest.raises(IndexError, match="target 5 is out of bounds for 3 classes"):
        F.nll_loss(from_np(x), from_np(np.full((4, 2), 5, dtype=np.int64)))
    t2 = np.where(t == -100, 0, t)
    assert_close(nn.NLLLoss(ignore_index=2)(from_np(x), from_np(t2)),
                 np.asarray(np_cross_entropy(x, t2, None, 2, "mean")), rtol=1e-10)


# ---- composite losses ----------------------------------------------------------------------
A = rand_np((3, 4), np.float64, rng=np.random.default_rng(1))
B = rand_np((3, 4), np.float64, rng=np.random.default_rng(2))
P = np.random.default_rng(3).uniform(0.05, 0.95, size=(3, 4))
Q = np.random.default_rng(4).uniform(0.0, 1.0, size=(3, 4))
Y = np.array([1.0, -1.0, 1.0])


def _red(v, reduction):
    return {"none": v, "mean": v.mean(), "sum": v.sum()}[reduction]


def _huber(d, delta):
    a = np.abs(d)
    return np.where(a < delta, 0.5 * a * a, delta * (a - 0.5 * delta))


def _bce_logits(x, t, pw=None):
    p = 1 / (1 + np.exp(-x))
    pw = 1.0 if pw is None else pw
    return -(pw * t * np.log(p) + (1 - t) * np.log(1 - p))


def _cos(a, b):
    return (a * b).sum(1) / np.sqrt(((a * a).sum(1) + 1e-12) * ((b * b).sum(1) + 1e-12))


CASES = {
    "mse": (lambda a, b, r: F.mse_loss(a, b, reduction=r), lambda r: _red((A - B) ** 2, r), (A, B)),
    "l1": (lambda a, b, r: F.l1_loss(a, b, reduction=r), lambda r: _red(np.abs(A - B), r), (A, B)),
    "smooth_l1": (lambda a, b, r: F.smooth_l1_loss(a, b, reduction=r, beta=0.7),
                  lambda r: _red(_huber(A - B, 0.7) / 0.7, r), (A, B)),
    "huber": (lambda a, b, r: F.huber_loss(a, b, reduction=r, delta=0.6),
              lambda r: _red(_huber(A - B, 0.6), r), (A, B)),
    "bce": (lambda p, q, r: F.binary_cross_entropy(p, q, reduction=r),
            lambda r: _red(-(Q * np.log(P) + (1 - Q) * np.log(1 - P)), r), (P, Q)),
    "bce_w": (lambda p, q, r: F.binary_cross_entropy(p, q, weight=from_np(B[0]), reduction=r),
              lambda r: _red(-B[0] * (Q * np.log(P) + (1 - Q) * np.log(1 - P)), r), (P, Q)),
    "bce_logits": (lambda a, q, r: F.binary_cross_entropy_with_logits(a, q, reduction=r),
                   lambda r: _red(_bce_logits(A, Q), r), (A, Q)),
    "bce_logits_pw": (lambda a, q, r: F.binary_cross_entropy_with_logits(
                          a, q, weight=from_np(P[0]), pos_weight=from_np(np.arange(1.0, 5.0)),
                          reduction=r),
                      lambda r: _red(P[0] * _bce_logits(A, Q, np.arange(1.0, 5.0)), r), (A, Q)),
    "kl": (lambda a, q, r: F.kl_div(a, q, reduction=r),
           lambda r: _red(Q * (np.log(Q) - A), r), (A, Q)),
    "kl_log": (lambda a, b, r: F.kl_div(a, b, reduction=r, log_target=True),
               lambda r: _red(np.exp(B) * (B - A), r), (A, B)),
    "cosine": (lambda a, b, r: F.cosine_embedding_loss(a, b, from_np(Y), margin=0.1, reduction=r),
               lambda r: _red(np.where(Y == 1, 1 - _cos(A, B),
                                       np.maximum(_cos(A, B) - 0.1, 0)), r), (A, B)),
    "margin_ranking": (lambda a, b, r: F.margin_ranking_loss(a, b, from_np(np.sign(B[0] + 0.1) *
                                                                           np.ones((3, 4))),
                                                             margin=0.2, reduction=r),
                       lambda r: _red(np.maximum(-np.sign(B[0] + 0.1) * (A - B) + 0.2, 0), r),
                       (A, B)),
    "hinge": (lambda a, b, r: F.hinge_embedding_loss(a, from_np(np.sign(B)), margin=1.5,
                                                     reduction=r),
              lambda r: _red(np.where(np.sign(B) == 1, A, np.maximum(1.5 - A, 0)), r), (A, B)),
    "poisson": (lambda a, b, r: F.poisson_nll_loss(a, b, reduction=r),
                lambda r: _red(np.exp(A) - B * A, r), (A, B)),
    "poisson_full": (lambda p, b, r: F.poisson_nll_loss(p, b * 3, log_input=False, full=True,
                                                        reduction=r),
                     lambda r: _red(P - 3 * B * np.log(P + 1e-8) + np.where(
                         3 * B > 1, 3 * B * np.log(np.maximum(3 * B, 1)) - 3 * B +
                         0.5 * np.log(2 * np.pi * np.maximum(3 * B, 1)), 0), r), (P, B)),
    "gaussian": (lambda a, b, r: F.gaussian_nll_loss(a, b, from_np(P), full=True, reduction=r),
                 lambda r: _red(0.5 * (np.log(P) + (A - B) ** 2 / P) + 0.5 * np.log(2 * np.pi),
                                r), (A, B)),
}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_composite_losses(name, reduction):
    fn, ref, arrays = CASES[name]
    if name.startswith("kl") and reduction == "mean":
        with pytest.warns(UserWarning):
            out = fn(*[from_np(a) for a in arrays], reduction)
    else:
        out = fn(*[from_np(a) for a in arrays], reduction)
    assert_close(out, np.asarray(ref(reduction)), rtol=1e-9, atol=1e-12)
    if reduction != "mean" or not name.startswith("kl"):
        assert gradcheck(lambda a, b: fn(a, b, reduction), *arrays)


def test_kl_batchmean_and_triplet():
    out = F.kl_div(from_np(A), from_np(Q), reduction="batchmean")
    assert_close(out, np.asarray((Q * (np.log(Q) - A)).sum() / 3), rtol=1e-10)
    C = rand_np((3, 4), np.float64, rng=np.random.default_rng(9))
    d = lambda x, y: np.sqrt(((x - y + 1e-6) ** 2).sum(1))  # noqa: E731
    for swap in (False, True):
        dn = np.minimum(d(A, C), d(B, C)) if swap else d(A, C)
        ref = np.maximum(1.0 + d(A, B) - dn, 0).mean()
        out = F.triplet_margin_loss(from_np(A), from_np(B), from_np(C), swap=swap)
        assert_close(out, np.asarray(ref), rtol=1e-10)
        assert gradcheck(lambda a, b, c: F.triplet_margin_loss(a, b, c, swap=swap, margin=2.0),
                         A, B, C)


def test_bce_clamps_log_and_shape_errors():
    out = F.binary_cross_entropy(ranvier.tensor([0.0, 1.0]), ranvier.tensor([1.0, 0.0]),
                                 reduction="none")
    assert_close(out, np.array([100.0, 100.0], dtype=np.float32))
    with pytest.raises(ValueError, match="target size"):
        F.binary_cross_entropy(ranvier.zeros(3), ranvier.zeros(2, 3))
    with pytest.raises(ValueError, match="with_logits: target size"):
        F.binary_cross_entropy_with_logits(ranvier.zeros(3), ranvier.zeros(2, 3))
    with pytest.raises(RuntimeError, match="between 0 and 1"):
        F.binary_cross_entropy(ranvier.tensor([1.5]), ranvier.tensor([1.0]))
    with pytest.warns(UserWarning, match="mse_loss.*target size"):
        F.mse_loss(ranvier.zeros(2, 3), ranvier.zeros(3))
    with pytest.raises(ValueError, match="var"):
        F.gaussian_nll_loss(ranvier.zeros(2, 3), ranvier.zeros(2, 3), ranvier.ones(4))
    with pytest.raises(ValueError, match="negative"):
        F.gaussian_nll_loss(ranvier.zeros(2), ranvier.zeros(2), -ranvier.ones(2))
    with pytest.raises(ValueError, match="reduction"):
        F.l1_loss(ranvier.zeros(2), ranvier.zeros(2), reduction="avg")


def test_bce_with_logits_is_stable():
    x = ranvier.tensor([-200.0, 200.0], dtype=ranvier.float64)
    out = F.binary_cross_entropy_with_logits(x, ranvier.tensor([1.0, 0.0],
                                                               dtype=ranvier.float64),
                                             reduction="none")
    assert_close(out, np.array([200.0, 200.0]))


def test_loss_modules():
    x, t = from_np(A), from_np(B)
    assert_close(nn.MSELoss()(x, t), np.asarray(((A - B) ** 2).mean()))
    assert_close(nn.L1Loss(reduction="sum")(x, t), np.asarray(np.abs(A - B).sum()))
    assert_close(nn.HuberLoss(delta=0.6)(x, t), np.asarray(_huber(A - B, 0.6).mean()))
    assert_close(nn.SmoothL1Loss(beta=0.7)(x, t), np.asarray((_huber(A - B, 0.7) / 0.7).mean()))
    w = from_np(np.array([1.0, 2.0, 0.5, 1.0]))
    ce = nn.CrossEntropyLoss(weight=w, label_smoothing=0.1, ignore_index=0)
    assert [n for n, _ in ce.named_buffers()] == ["weight"]
    tg = np.array([1, 0, 3], dtype=np.int64)
    assert_close(ce(x, from_np(tg)), np.asarray(np_cross_entropy(
        A, tg, w.numpy(), 0, "mean", 0.1)), rtol=1e-10)
    assert list(nn.CrossEntropyLoss().parameters()) == []
    assert_close(nn.BCEWithLogitsLoss(pos_weight=from_np(np.arange(1.0, 5.0)))(x, from_np(Q)),
                 np.asarray(_bce_logits(A, Q, np.arange(1.0, 5.0)).mean()))
    assert_close(nn.BCELoss()(from_np(P), from_np(Q)),
                 np.asarray((-(Q * np.log(P) + (1 - Q) * np.log(1 - P))).mean()))
    assert_close(nn.KLDivLoss(reduction="batchmean", log_target=True)(x, t),
                 np.asarray((np.exp(B) * (B - A)).sum() / 3))
    for mod in (nn.CosineEmbeddingLoss(), nn.MarginRankingLoss(), nn.HingeEmbeddingLoss(),
                nn.TripletMarginLoss(), nn.PoissonNLLLoss(), nn.GaussianNLLLoss(), nn.NLLLoss()):
        assert list(mod.parameters()) == []
    assert float(nn.MSELoss(reduce=False)(x, t).sum()) == pytest.approx(((A - B) ** 2).sum())
    with pytest.raises(ValueError, match="margin"):
        nn.TripletMarginLoss(margin=0)


def test_cross_entropy_matches_torch_and_threads():
    torch = pytest.importorskip("torch")
    x = rand_np((4, 5, 3), np.float64)
    t = np.random.default_rng(7).integers(0, 5, size=(4, 3))
    t[0, 0] = -100
    w = np.linspace(0.5, 2.0, 5)
    for reduction in ("none", "mean", "sum"):
        a = from_np(x, requires_grad=True)
        b = torch.from_numpy(x.copy()).requires_grad_()
        ra = F.cross_entropy(a, from_np(t), weight=from_np(w), reduction=reduction,
                             label_smoothing=0.2)
        tb = torch.nn.functional.cross_entropy(b, torch.from_numpy(t), torch.from_numpy(w),
                                               reduction=reduction, label_smoothing=0.2)
        np.testing.assert_allclose(ra.detach().numpy(), tb.detach().numpy(), rtol=1e-10)
        ra.sum().backward()
        tb.sum().backward()
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_fused_kernels_thread_count_independent():
    x = from_np(rand_np((300, 257), np.float32))
    t = from_np(np.random.default_rng(1).integers(0, 257, size=300))
    old = ranvier.get_num_threads()
    try:
        outs = []
        for n in (1, 2, 3):
            ranvier.set_num_threads(n)
            a = x.clone().requires_grad_()
            loss = F.cross_entropy(a, t, reduction="sum")
            loss.backward()
            outs.append((F.softmax(x, 1).numpy(), F.log_softmax(x, 0).numpy(), loss.item(),
                         a.grad.numpy()))
        for o in outs[1:]:
            for u, v in zip(outs[0], o):
                np.testing.assert_array_equal(u, v)
    finally:
        ranvier.set_num_threads(old)


def test_more_cross_entropy_errors():
    with pytest.raises(ValueError, match="cross_entropy: expected an input with at least 1 dim"):
        F.cross_entropy(ranvier.tensor(1.0), ranvier.tensor(0))
    with pytest.raises(IndexError, match="target 0 is out of bounds for 0 classes"):
        F.cross_entropy(ranvier.zeros(2, 0), ranvier.tensor([0, 1]))
    with pytest.raises(RuntimeError, match=r"cross_entropy: expected target of shape \[2, 3\]"):
        F.cross_entropy(ranvier.zeros(2, 4, 3), ranvier.tensor([[0], [1]]))
    with pytest.raises(TypeError, match="cross_entropy: expected a floating point input"):
        F.cross_entropy(ranvier.tensor([[1, 2]]), ranvier.tensor([0]))
    with pytest.raises(RuntimeError, match="nll_loss: expected target of shape"):
        F.nll_loss(ranvier.zeros(2, 4, 3), ranvier.tensor([[0], [1]]))


def test_cross_entropy_dtype_argument():
    """dtype (an extension autocast uses) casts the input first, like PyTorch's dtype arguments,
    and names the loss's dtype; a non-floating dtype is refused."""
    F = ranvier.nn.functional
    rng = np.random.default_rng(11)
    z = ranvier.tensor(rng.uniform(-2, 2, size=(4, 6)).astype(np.float32))
    t = ranvier.tensor(rng.integers(0, 6, size=4).astype(np.int64))
    d = F.cross_entropy(z, t, dtype=ranvier.float64)
    assert d.dtype == ranvier.float64
    assert d.item() == F.cross_entropy(z.double(), t).item()
    h = F.cross_entropy(z.bfloat16(), t, dtype=ranvier.float32)
    assert h.dtype == ranvier.float32
    assert h.item() == F.cross_entropy(z.bfloat16().float(), t).item()
    p = F.cross_entropy(z, ranvier.softmax(z, 1), dtype=ranvier.float64)  # probability targets
    assert p.dtype == ranvier.float64
    with pytest.raises(TypeError, match="cross_entropy.*floating dtype"):
        F.cross_entropy(z, t, dtype=ranvier.int64)
