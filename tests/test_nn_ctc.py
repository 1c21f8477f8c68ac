"""nn.functional.ctc_loss / nn.CTCLoss: forward against brute-force enumeration of alignments
(tiny T, C) and a NumPy alpha recursion, reductions, padded and concatenated targets,
zero_infinity, float64 gradchecks, thread-count invariance, errors and PyTorch (when installed).
"""
import itertools

import numpy as np
import pytest

import ranvier
import ranvier.nn as nn
import ranvier.nn.functional as F
from helpers import assert_close, from_np, gradcheck, noncontiguous, to_np


def log_softmax_np(z, axis=-1):
    m = z.max(axis=axis, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=axis, keepdims=True))


def brute_nll(lp, target, blank=0):
    """-log sum over every length-T path that collapses to target of prod exp(lp[t, path_t])."""
    T, C = lp.shape
    total = 0.0
    for path in itertools.product(range(C), repeat=T):
        collapsed = []
        prev = None
        for c in path:
            if c != prev and c != blank:
                collapsed.append(c)
            prev = c
        if collapsed == list(target):
            total += np.exp(sum(lp[t, c] for t, c in enumerate(path)))
    return -np.log(total) if total > 0 else np.inf


def alpha_nll(lp, target, blank=0):
    """NumPy alpha recursion in probability space (float64; fine for small T)."""
    T, C = lp.shape
    ext = [blank]
    for c in target:
        ext += [c, blank]
    S = len(ext)
    p = np.exp(lp)
    if T == 0:
        return 0.0 if len(target) == 0 else np.inf
    a = np.zeros(S)
    a[0] = p[0, blank]
    if S > 1:
        a[1] = p[0, ext[1]]
    for t in range(1, T):
        n = np.zeros(S)
        for s in range(S):
            v = a[s] + (a[s - 1] if s >= 1 else 0)
            if s >= 2 and ext[s] != blank and ext[s] != ext[s - 2]:
                v += a[s - 2]
            n[s] = v * p[t, ext[s]]
        a = n
    tot = a[-1] + (a[-2] if S > 1 else 0)
    return -np.log(tot) if tot > 0 else np.inf


def _problem(rng, T=6, N=3, C=4, S=3, blank=0):
    lp = log_softmax_np(rng.normal(size=(T, N, C)))
    tl = rng.integers(0, S + 1, size=N)
    il = np.array([rng.integers(max(1, 2 * t), T + 1) for t in tl])
    labels = [c for c in range(C) if c != blank]
    targets = rng.choice(labels, size=(N, S))
    return lp, targets, il, tl


@pytest.mark.parametrize("blank", [0, 2])
def test_brute_force_tiny(blank):
    rng = np.random.default_rng(0)
    C, T = 3, 4
    for target in ([], [1], [1, 1], [1, 0], [0, 1, 0], [1, 1, 1]):
        target = [c if c != blank else 2 - blank for c in target]
        if any(c == blank for c in target):
            continue
        for Tb in (T, 3):
            lp = log_softmax_np(rng.normal(size=(T, 1, C)))
            tg = np.array([target + [0] * (3 - len(target))])
            out = F.ctc_loss(from_np(lp), from_np(tg), [Tb], [len(target)], blank=blank,
                             reduction="none")
            exp = brute_nll(lp[:Tb, 0], target, blank)
            assert_close(out, np.array([exp]), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_alpha_recursion_and_reductions(dtype):
    rng = np.random.default_rng(1)
    lp, targets, il, tl = _problem(rng, T=8, N=4, C=5, S=3)
    per = np.array([alpha_nll(lp[:il[b], b], targets[b, :tl[b]]) for b in range(4)])
    lpt = from_np(lp.astype(dtype))
    tol = 1e-5 if dtype == np.float32 else 1e-10
    out = F.ctc_loss(lpt, from_np(targets), from_np(il), from_np(tl), reduction="none")
    assert_close(out, per.astype(dtype), rtol=tol, atol=tol)
    assert_close(F.ctc_loss(lpt, from_np(targets), from_np(il), from_np(tl), reduction="sum"),
                 np.array(per.sum(), dtype), rtol=tol, atol=tol)
    mean = (per / np.maximum(tl, 1)).mean()
    assert_close(F.ctc_loss(lpt, from_np(targets), from_np(il), from_np(tl)),
                 np.array(mean, dtype), rtol=tol, atol=tol)
    # concatenated targets, tuple lengths, int32 targets, non-contiguous log_probs
    cat = np.concatenate([targets[b, :tl[b]] for b in range(4)]).astype(np.int32)
    out = F.ctc_loss(noncontiguous(lpt), from_np(cat), tuple(int(v) for v in il),
                     tuple(int(v) for v in tl), reduction="none")
    assert_close(out, per.astype(dtype), rtol=tol, atol=tol)
    m = nn.CTCLoss(reduction="sum")
    assert_close(m(lpt, from_np(targets), from_np(il), from_np(tl)), np.array(per.sum(), dtype),
                 rtol=tol, atol=tol)


def test_reduced_precision():
    rng = np.random.default_rng(9)
    lp, targets, il, tl = _problem(rng, T=6, N=2, C=4, S=2)
    per = np.array([alpha_nll(lp[:il[b], b], targets[b, :tl[b]]) for b in range(2)])
    for dt in (ranvier.float16, ranvier.bfloat16):
        x = from_np(lp.astype(np.float32)).to(dt).requires_grad_()
        out = F.ctc_loss(x, from_np(targets), from_np(il), from_np(tl), reduction="sum")
        assert out.dtype == dt
        np.testing.assert_allclose(float(out.float()), per.sum(), rtol=2e-2)
        out.backward()
        assert x.grad.dtype == dt


def test_unbatched_and_empty_batch():
    rng = np.random.default_rng(2)
    lp = log_softmax_np(rng.normal(size=(5, 4)))
    out = F.ctc_loss(from_np(lp), from_np(np.array([1, 2])), ranvier.tensor(5),
                     ranvier.tensor(2), reduction="none")
    assert_close(out, np.array(alpha_nll(lp, [1, 2])), rtol=1e-10, atol=1e-12)
    e = ranvier.zeros(5, 0, 4, dtype=ranvier.float64, requires_grad=True)
    out = F.ctc_loss(e, ranvier.zeros(0, 2, dtype=ranvier.int64), [], [], reduction="sum")
    assert to_np(out) == 0
    out.backward()
    assert tuple(e.grad.shape) == (5, 0, 4)


def test_zero_infinity():
    # target longer than the input allows: infinite loss
    lp = log_softmax_np(np.random.default_rng(3).normal(size=(2, 1, 3)))
    args = (from_np(np.array([[1, 1]])), [2], [2])
    x = from_np(lp, requires_grad=True)
    out = F.ctc_loss(x, *args, reduction="sum")
    assert np.isinf(to_np(out))
    x = from_np(lp, requires_grad=True)
    out = F.ctc_loss(x, *args, reduction="sum", zero_infinity=True)
    assert to_np(out) == 0
    out.backward()
    np.testing.assert_array_equal(to_np(x.grad), np.zeros_like(lp))


def test_gradcheck():
    rng = np.random.default_rng(4)
    lp, targets, il, tl = _problem(rng, T=6, N=3, C=4, S=3)
    for red in ("none", "mean", "sum"):
        assert gradcheck(lambda t: F.ctc_loss(t, from_np(targets), from_np(il), from_np(tl),
                                              reduction=red), lp)
    # through log_softmax of raw scores, with repeated labels and a nonzero blank
    z = rng.normal(size=(5, 2, 3))
    tg = np.array([[1, 1], [0, 1]])
    assert gradcheck(lambda t: F.ctc_loss(t.log_softmax(2), from_np(tg), [5, 4], [2, 2],
                                          blank=2), z)


def test_gradient_zero_past_input_length():
    rng = np.random.default_rng(5)
    lp = log_softmax_np(rng.normal(size=(6, 2, 3)))
    x = from_np(lp, requires_grad=True)
    F.ctc_loss(x, from_np(np.array([[1], [2]])), [3, 6], [1, 1], reduction="sum").backward()
    g = to_np(x.grad)
    np.testing.assert_array_equal(g[3:, 0], 0)
    assert np.abs(g[:3, 0]).sum() > 0


def test_double_backward_raises():
    lp = from_np(log_softmax_np(np.random.default_rng(6).normal(size=(3, 1, 3))),
                 requires_grad=True)
    out = F.ctc_loss(lp, from_np(np.array([[1]])), [3], [1])
    with pytest.raises(NotImplementedError, match="ctc_loss: double backward"):
        ranvier.autograd.grad(out, lp, create_graph=True)


def test_thread_count_invariant():
    rng = np.random.default_rng(7)
    lp, targets, il, tl = _problem(rng, T=30, N=64, C=20, S=8)
    n0 = ranvier.get_num_threads()
    res = []
    try:
        for n in (1, 3):
            ranvier.set_num_threads(n)
            x = from_np(lp.astype(np.float32), requires_grad=True)
            out = F.ctc_loss(x, from_np(targets), from_np(il), from_np(tl))
            out.backward()
            res.append((to_np(out), to_np(x.grad)))
    finally:
        ranvier.set_num_threads(n0)
    np.testing.assert_array_equal(res[0][0], res[1][0])
    np.testing.assert_array_equal(res[0][1], res[1][1])


def test_errors():
    lp = ranvier.zeros(4, 2, 3).log_softmax(2)
    tg = ranvier.tensor([[1, 2], [1, 1]])
    with pytest.raises(ValueError, match=r"ctc_loss: expected log_probs of shape \[T, N, C\]"):
        F.ctc_loss(ranvier.zeros(4), tg, [4, 4], [2, 2])
    with pytest.raises(TypeError, match="ctc_loss: expected floating point log_probs"):
        F.ctc_loss(ranvier.zeros(4, 2, 3, dtype=ranvier.int64), tg, [4, 4], [2, 2])
    with pytest.raises(TypeError, match="ctc_loss: targets must be integers"):
        F.ctc_loss(lp, tg.float(), [4, 4], [2, 2])
    with pytest.raises(ValueError, match=r"input_lengths of 2 elements.*\[3\]"):
        F.ctc_loss(lp, tg, [4, 4, 4], [2, 2])
    with pytest.raises(ValueError, match=r"target_lengths of 2 elements"):
        F.ctc_loss(lp, tg, [4, 4], [2])
    with pytest.raises(ValueError, match=r"input_lengths to have values in \[0, 4\].*got 5"):
        F.ctc_loss(lp, tg, [5, 4], [2, 2])
    with pytest.raises(ValueError, match=r"target length 3 of batch element 1 exceeds"):
        F.ctc_loss(lp, tg, [4, 4], [2, 3])
    with pytest.raises(ValueError, match="target_lengths must be non-negative"):
        F.ctc_loss(lp, tg, [4, 4], [2, -1])
    with pytest.raises(ValueError, match=r"add up to more than the 3 concatenated"):
        F.ctc_loss(lp, ranvier.tensor([1, 2, 1]), [4, 4], [2, 2])
    with pytest.raises(ValueError, match=r"target 0 of batch element 0 equals the blank index 0"):
        F.ctc_loss(lp, ranvier.tensor([[0, 1], [1, 1]]), [4, 4], [2, 2])
    with pytest.raises(IndexError, match=r"target 3 of batch element 1 is out of bounds for 3"):
        F.ctc_loss(lp, ranvier.tensor([[1, 2], [3, 1]]), [4, 4], [2, 2])
    with pytest.raises(IndexError, match=r"target -1 .* out of bounds"):
        F.ctc_loss(lp, ranvier.tensor([[1, 2], [-1, 1]]), [4, 4], [2, 2])
    with pytest.raises(ValueError, match=r"blank must be in label range \[0, 3\), got 3"):
        F.ctc_loss(lp, tg, [4, 4], [2, 2], blank=3)
    with pytest.raises(ValueError, match=r"expected padded targets with 2 rows"):
        F.ctc_loss(lp, ranvier.tensor([[1, 2]]), [4, 4], [2, 2])
    with pytest.raises(ValueError, match="'avg' is not a valid value for reduction"):
        F.ctc_loss(lp, tg, [4, 4], [2, 2], reduction="avg")
    with pytest.raises(TypeError, match="input_lengths must be integers"):
        F.ctc_loss(lp, tg, ranvier.tensor([4.0, 4.0]), [2, 2])


def test_against_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(8)
    z = rng.normal(size=(12, 5, 6)).astype(np.float32)
    tl = np.array([3, 0, 5, 2, 4])
    il = np.array([12, 3, 11, 12, 9])
    tg = rng.integers(1, 6, size=(5, 5))
    for red in ("none", "mean", "sum"):
        for blank in (0,):
            x = from_np(z, requires_grad=True)
            out = F.ctc_loss(x.log_softmax(2), from_np(tg), from_np(il), from_np(tl),
                             blank=blank, reduction=red)
            tx = torch.tensor(z, requires_grad=True)
            tout = torch.nn.functional.ctc_loss(tx.log_softmax(2), torch.tensor(tg),
                                                torch.tensor(il), torch.tensor(tl),
                                                blank=blank, reduction=red)
            np.testing.assert_allclose(to_np(out), tout.detach().numpy(), rtol=1e-5, atol=1e-5)
            out.sum().backward()
            tout.sum().backward()
            np.testing.assert_allclose(to_np(x.grad), tx.grad.numpy(), rtol=1e-4, atol=1e-5)
