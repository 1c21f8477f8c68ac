"""Fused CPU kernels used by the transformer workloads: gelu's vectorised forward and
backward (both forms, float32 against a float64 NumPy reference, float64 gradchecks,
non-contiguous and zero-size input, double backward still composed) and the blocked
scaled-dot-product attention (several query blocks, causal with L != S, a fully masked row,
gradients against finite differences, thread-count invariance)."""
import math

import numpy as np
import pytest

import ranvier
import ranvier.nn.functional as F
from helpers import assert_close, from_np, to_np, gradcheck, gradgradcheck, noncontiguous

_erf = np.vectorize(math.erf)


def np_gelu(x, tanh_form):
    if tanh_form:
        return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
    return 0.5 * x * (1 + _erf(x / math.sqrt(2)))


def np_gelu_grad(x, tanh_form):
    if tanh_form:
        k = math.sqrt(2 / math.pi)
        th = np.tanh(k * (x + 0.044715 * x ** 3))
        return 0.5 * (1 + th) + 0.5 * x * (1 - th ** 2) * k * (1 + 3 * 0.044715 * x ** 2)
    return 0.5 * (1 + _erf(x / math.sqrt(2))) + x * np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)


@pytest.mark.parametrize("approx", ["none", "tanh"])
def test_gelu_float32_forward_backward(approx):
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.standard_normal(5000) * 3, [-40.0, -12.0, -6.0, 0.0, 6.0, 12.0,
                                                          40.0]]).astype(np.float32)
    g = rng.standard_normal(x.shape).astype(np.float32)
    xt = from_np(x, requires_grad=True)
    y = F.gelu(xt, approximate=approx)
    y.backward(from_np(g))
    x64 = x.astype(np.float64)
    tanh_form = approx == "tanh"
    assert_close(y, np_gelu(x64, tanh_form).astype(np.float32), rtol=1e-5, atol=1e-6)
    assert_close(xt.grad, (g * np_gelu_grad(x64, tanh_form)).astype(np.float32), rtol=1e-5,
                 atol=1e-6)


@pytest.mark.parametrize("approx", ["none", "tanh"])
def test_gelu_float64_gradcheck_noncontiguous_zero_size(approx):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 4)) * 2
    assert gradcheck(lambda t: F.gelu(t, approximate=approx), x)
    assert gradgradcheck(lambda t: F.gelu(t, approximate=approx), x)  # composed when needed
    t = noncontiguous(from_np(x))
    assert_close(F.gelu(t, approximate=approx), np_gelu(to_np(t), approx == "tanh"),
                 rtol=1e-12, atol=1e-12)
    z = ranvier.zeros(0, 3, requires_grad=True)
    out = F.gelu(z, approximate=approx)
    out.sum().backward()
    assert tuple(out.shape) == (0, 3) and tuple(z.grad.shape) == (0, 3)


def np_sdpa(q, k, v, causal=False, mask=None):
    s = q @ np.swapaxes(k, -1, -2) / math.sqrt(q.shape[-1])
    L, S = q.shape[-2], k.shape[-2]
    if causal:
        s = np.where(np.tril(np.ones((L, S), dtype=bool)), s, -np.inf)
    if mask is not None:
        s = s + mask
    m = s.max(-1, keepdims=True)
    p = np.exp(s - m)
    return (p / p.sum(-1, keepdims=True)) @ v


@pytest.mark.parametrize("L,S,causal", [(130, 70, True), (70, 130, True), (150, 150, False),
                                        (65, 1, False)])
def test_sdpa_blocks_match_numpy(L, S, causal):
    rng = np.random.default_rng(2)
    q = rng.standard_normal((2, L, 8)).astype(np.float32)
    k = rng.standard_normal((2, S, 8)).astype(np.float32)
    v = rng.standard_normal((2, S, 5)).astype(np.float32)
    out = F.scaled_dot_product_attention(from_np(q), from_np(k), from_np(v), is_causal=causal)
    expect = np_sdpa(q.astype(np.float64), k.astype(np.float64), v.astype(np.float64), causal)
    assert_close(out, expect.astype(np.float32), rtol=1e-4, atol=1e-5)


def test_sdpa_fully_masked_row_and_gradcheck():
    rng = np.random.default_rng(3)
    q, k, v = (rng.standard_normal((1, 3, 2)) for _ in range(3))
    mask = np.zeros((3, 3))
    mask[1, :] = -np.inf  # row 1 sees no key
    out = to_np(F.scaled_dot_product_attention(from_np(q), from_np(k), from_np(v),
                                               attn_mask=from_np(mask)))
    assert np.isnan(out[0, 1]).all() and not np.isnan(out[0, [0, 2]]).any()
    q, k, v = (rng.standard_normal((2, 70, 3)) * 0.5 for _ in range(3))
    assert gradcheck(lambda a, b, c: F.scaled_dot_product_attention(a, b, c, is_causal=True),
                     q, k, v)


def test_sdpa_thread_count_invariance():
    rng = np.random.default_rng(4)
    arrays = [rng.standard_normal((6, 90, 16)).astype(np.float32) for _ in range(3)]
    old = ranvier.get_num_threads()
    results = []
    try:
        for nt in (1, 2, 3):
            ranvier.set_num_threads(nt)
            q, k, v = (from_np(a, requires_grad=True) for a in arrays)
            out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            (out * out).sum().backward()
            results.append([to_np(t) for t in (out, q.grad, k.grad, v.grad)])
    finally:
        ranvier.set_num_threads(old)
    for other in results[1:]:
        for a, b in zip(results[0], other):
            assert np.array_equal(a, b)
