"""Float32 scaled_dot_product_attention, forward and backward, against a float64 NumPy
reference: the float32 kernel's row passes (softmax, the recomputed probabilities, dS with its
dout . out dot) run vectorised with masked tails (AVX-512, and the portable passes other CPUs
take), so row lengths and head sizes around multiples of 16, several query blocks, masks,
custom scales, rows with no allowed key and NaN scores are covered, at one and two threads."""
import math

import numpy as np
import pytest

import ranvier
import ranvier.nn.functional as F
from helpers import assert_close, from_np
from test_nn_attention import np_scores


def np_sdpa_fwd_bwd(q, k, v, g, mask=None, causal=False, scale=None):
    """out and the gradients of sum(out * g) for q, k, v, in float64 (rows with no allowed key
    give zero probabilities here; the caller handles their NaN outputs)."""
    s, scale = np_scores(q, k, mask, causal, scale)
    m = np.max(s, axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    e = np.exp(s - m)
    den = e.sum(axis=-1, keepdims=True)
    p = e / np.where(den == 0, 1.0, den)
    out = p @ v
    dp = g @ np.swapaxes(v, -1, -2)
    ds = p * (dp - (g * out).sum(-1, keepdims=True)) * scale
    gq = ds @ k
    gk = np.swapaxes(ds, -1, -2) @ q
    gv = np.swapaxes(p, -1, -2) @ g
    return out, gq, gk, gv


def run_f32(q, k, v, g, **kw):
    Q, K, V = (from_np(a.astype(np.float32), requires_grad=True) for a in (q, k, v))
    out = F.scaled_dot_product_attention(Q, K, V, **kw)
    out.backward(from_np(g.astype(np.float32)))
    return out, Q.grad, K.grad, V.grad


@pytest.fixture(params=["vector", "vector-general", "portable"])
def row_passes(request):
    """Each test runs with the vector row passes (AVX-512 or AVX2, where the CPU has them), once
    more with the AVX2 short-sequence kernels turned off (where they would take the case, the
    general kernels then run it; test_attention_small.py has their own checks), and with the
    portable row passes other CPUs take."""
    prev = ranvier._C._set_attention_rows_vector(request.param != "portable")
    prev_small = ranvier._C._set_attention_small(request.param != "vector-general")
    yield request.param
    ranvier._C._set_attention_small(prev_small)
    ranvier._C._set_attention_rows_vector(prev)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("L,S,E,Ev", [(64, 64, 32, 32), (17, 17, 16, 16), (15, 33, 40, 24),
                                      (130, 130, 8, 5), (70, 150, 33, 17), (1, 1, 3, 2)])
@pytest.mark.parametrize("causal", [False, True])
def test_float32_forward_backward(threads, L, S, E, Ev, causal, row_passes):
    rng = np.random.default_rng(L * 1000 + S + E)
    q = rng.standard_normal((2, 3, L, E))
    k = rng.standard_normal((2, 3, S, E))
    v = rng.standard_normal((2, 3, S, Ev))
    g = rng.standard_normal((2, 3, L, Ev))
    old = ranvier.get_num_threads()
    ranvier.set_num_threads(threads)
    try:
        got = run_f32(q, k, v, g, is_causal=causal)
    finally:
        ranvier.set_num_threads(old)
    want = np_sdpa_fwd_bwd(q, k, v, g, causal=causal)
    for a, b in zip(got, want):
        assert_close(a, b.astype(np.float32), rtol=2e-4, atol=2e-5)


@pytest.mark.parametrize("scale", [0.05, 1.7])
def test_float32_mask_and_scale(scale, row_passes):
    rng = np.random.default_rng(3)
    q, k = rng.standard_normal((2, 37, 24)), rng.standard_normal((2, 45, 24))
    v, g = rng.standard_normal((2, 45, 20)), rng.standard_normal((2, 37, 20))
    fmask = rng.standard_normal((37, 45))
    got = run_f32(q, k, v, g, attn_mask=from_np(fmask.astype(np.float32)), scale=scale)
    want = np_sdpa_fwd_bwd(q, k, v, g, mask=fmask, scale=scale)
    for a, b in zip(got, want):
        assert_close(a, b.astype(np.float32), rtol=2e-4, atol=2e-5)
    bmask = rng.random((37, 45)) < 0.7
    bmask[:, 0] = True
    got = run_f32(q, k, v, g, attn_mask=from_np(bmask), scale=scale)
    want = np_sdpa_fwd_bwd(q, k, v, g, mask=bmask, scale=scale)
    for a, b in zip(got, want):
        assert_close(a, b.astype(np.float32), rtol=2e-4, atol=2e-5)


def test_float32_rows_without_keys(row_passes):
    """A row whose mask allows no key: NaN output (as PyTorch), and no gradient flows from
    it; the other rows are unaffected."""
    rng = np.random.default_rng(4)
    q, k = rng.standard_normal((1, 20, 16)), rng.standard_normal((1, 20, 16))
    v, g = rng.standard_normal((1, 20, 18)), rng.standard_normal((1, 20, 18))
    bmask = np.ones((20, 20), dtype=bool)
    bmask[5] = False
    out, gq, gk, gv = run_f32(q, k, v, g, attn_mask=from_np(bmask))
    out, gq = out.detach().numpy(), gq.numpy()
    assert np.isnan(out[0, 5]).all()
    keep = np.arange(20) != 5
    want = np_sdpa_fwd_bwd(q[:, keep], k, v, g[:, keep], mask=bmask[keep])
    np.testing.assert_allclose(out[:, keep], want[0], rtol=2e-4, atol=2e-5)
    assert np.all(gq[0, 5] == 0)
    np.testing.assert_allclose(gq[:, keep], want[1], rtol=2e-4, atol=2e-5)
    assert_close(gk, want[2].astype(np.float32), rtol=2e-4, atol=2e-5)
    assert_close(gv, want[3].astype(np.float32), rtol=2e-4, atol=2e-5)


def test_float32_nan_score_poisons_only_its_row(row_passes):
    rng = np.random.default_rng(5)
    q, k = rng.standard_normal((1, 18, 8)), rng.standard_normal((1, 18, 8))
    v = rng.standard_normal((1, 18, 4))
    q[0, 7, 3] = np.nan
    out = F.scaled_dot_product_attention(*(from_np(a.astype(np.float32)) for a in (q, k, v)),
                                         is_causal=True).numpy()
    assert np.isnan(out[0, 7]).all()
    keep = np.arange(18) != 7
    ref = []  # row i sees keys [0, i]
    for i in np.flatnonzero(keep):
        s = q[0, i] @ k[0, : i + 1].T / math.sqrt(8)
        p = np.exp(s - s.max())
        ref.append((p / p.sum()) @ v[0, : i + 1])
    np.testing.assert_allclose(out[0, keep], np.array(ref), rtol=2e-4, atol=2e-5)


@pytest.mark.parametrize("kind", ["causal", "mask"])
def test_float32_large_recomputes_probabilities(kind, row_passes):
    """Past 2^22 probabilities (B L S) the forward keeps only the logsumexp and the backward
    recomputes the scores: that path against the reference too (the tests above are small
    enough for the kept probabilities)."""
    rng = np.random.default_rng(6)
    L = S = 2100  # L S = 4.41 M > 2^22
    q, k = rng.standard_normal((1, L, 16)), rng.standard_normal((1, S, 16))
    v, g = rng.standard_normal((1, S, 8)), rng.standard_normal((1, L, 8))
    if kind == "causal":
        got = run_f32(q, k, v, g, is_causal=True)
        want = np_sdpa_fwd_bwd(q, k, v, g, causal=True)
    else:
        fmask = rng.standard_normal((L, S))
        got = run_f32(q, k, v, g, attn_mask=from_np(fmask.astype(np.float32)))
        want = np_sdpa_fwd_bwd(q, k, v, g, mask=fmask)
    for a, b in zip(got, want):
        assert_close(a, b.astype(np.float32), rtol=5e-4, atol=5e-5)


def _qkv_heads(x, w, heads, contiguous):
    """A fused qkv projection split three ways and viewed as heads (the gpt block's layout),
    or the same values made contiguous first."""
    B, T, C = x.shape[0], x.shape[1], x.shape[2]
    q, k, v = (x @ w).split(C, dim=2)
    out = []
    for t in (q, k, v):
        t = t.view(B, T, heads, C // heads).transpose(1, 2)
        out.append(t.contiguous() if contiguous else t)
    return out


@pytest.mark.parametrize("causal", [False, True])
def test_fused_qkv_gradients_share_one_block(causal):
    """q, k, v sliced from one projection get their gradients as slices of one block, and the
    split's backward returns that block: the projection's gradients equal those of the same
    attention on contiguous copies (no shared block), and the float64 reference."""
    rng = np.random.default_rng(7)
    B, T, C, H = 3, 20, 48, 4
    xn, wn = rng.standard_normal((B, T, C)), rng.standard_normal((C, 3 * C)) * 0.2
    gn = rng.standard_normal((B, H, T, C // H))
    grads = []
    for contiguous in (False, True):
        x = from_np(xn.astype(np.float32), requires_grad=True)
        w = from_np(wn.astype(np.float32), requires_grad=True)
        q, k, v = _qkv_heads(x, w, H, contiguous)
        F.scaled_dot_product_attention(q, k, v, is_causal=causal).backward(
            from_np(gn.astype(np.float32)))
        grads.append((x.grad.numpy(), w.grad.numpy()))
    np.testing.assert_array_equal(grads[0][0], grads[1][0])
    np.testing.assert_array_equal(grads[0][1], grads[1][1])
    # the reference: gradients of q, k, v from the float64 formulas, through the projection
    p = xn @ wn
    heads = [p[..., i * C:(i + 1) * C].reshape(B, T, H, C // H).transpose(0, 2, 1, 3)
             for i in range(3)]
    _, gq, gk, gv = np_sdpa_fwd_bwd(*heads, gn, causal=causal)
    gp = np.concatenate([g.transpose(0, 2, 1, 3).reshape(B, T, C) for g in (gq, gk, gv)], -1)
    np.testing.assert_allclose(grads[0][0], gp @ wn.T, rtol=2e-4, atol=2e-4)
    np.testing.assert_allclose(grads[0][1], np.einsum("btc,btd->cd", xn, gp), rtol=2e-4,
                               atol=2e-4)


def test_split_backward_with_separate_pieces():
    """The split's backward still concatenates pieces that are not one block's slices."""
    rng = np.random.default_rng(8)
    xn = rng.standard_normal((4, 9)).astype(np.float32)
    x = from_np(xn, requires_grad=True)
    a, b, c = x.split(3, dim=1)
    (a * 2.0 + b * 3.0 + c * 4.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.repeat([[2.0] * 3 + [3.0] * 3 + [4.0] * 3],
                                                            4, axis=0).astype(np.float32))
