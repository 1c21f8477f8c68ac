"""Attention: scaled_dot_product_attention and multi-head attention (functional and
nn.MultiheadAttention) against NumPy references; float64 gradchecks; error cases; optional
comparison with torch modules."""
import math

import numpy as np
import pytest

import ranvier
import ranvier.nn as nn
import ranvier.nn.functional as F
from helpers import assert_close, from_np, gradcheck, noncontiguous, rand_np


def np_softmax(x):
    m = np.max(x, axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    e = np.exp(x - m)
    return e / e.sum(axis=-1, keepdims=True)


def np_scores(q, k, mask=None, causal=False, scale=None):
    """The masked, scaled scores and the scale used."""
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    s = np.matmul(q, np.swapaxes(k, -1, -2)) * scale
    L, S = q.shape[-2], k.shape[-2]
    if causal:
        s = np.where(np.tril(np.ones((L, S), dtype=bool)), s, -np.inf)
    if mask is not None:
        s = np.where(mask, s, -np.inf) if mask.dtype == np.bool_ else s + mask
    return s, scale


def np_sdpa(q, k, v, mask=None, causal=False, scale=None):
    return np.matmul(np_softmax(np_scores(q, k, mask, causal, scale)[0]), v)


@pytest.mark.parametrize("bshape,L,S,E,Ev", [((), 3, 4, 5, 2), ((2,), 7, 65, 8, 3),
                                             ((2, 3), 33, 17, 4, 6), ((1,), 1, 1, 1, 1)])
def test_sdpa_forward(bshape, L, S, E, Ev, device):
    rng = np.random.default_rng(1)
    q = rand_np(bshape + (L, E), rng=rng)
    k = rand_np(bshape + (S, E), rng=rng)
    v = rand_np(bshape + (S, Ev), rng=rng)
    out = F.scaled_dot_product_attention(from_np(q, device), from_np(k, device),
                                         from_np(v, device))
    assert_close(out, np_sdpa(q, k, v).astype(np.float32), rtol=1e-4, atol=1e-5)


def test_sdpa_scale_and_noncontiguous():
    rng = np.random.default_rng(2)
    q, k, v = (rand_np((2, 5, 4), rng=rng) for _ in range(3))
    out = F.scaled_dot_product_attention(noncontiguous(from_np(q)), noncontiguous(from_np(k)),
                                         noncontiguous(from_np(v)), scale=0.3)
    assert_close(out, np_sdpa(q, k, v, scale=0.3).astype(np.float32), rtol=1e-4, atol=1e-5)


def test_sdpa_masks_and_causal(device):
    rng = np.random.default_rng(3)
    q = rand_np((2, 3, 6, 4), rng=rng)
    k = rand_np((2, 3, 9, 4), rng=rng)
    v = rand_np((2, 3, 9, 5), rng=rng)
    bmask = rng.integers(0, 2, size=(6, 9)).astype(bool)
    bmask[:, 0] = True  # every row keeps one key
    fmask = rand_np((3, 1, 9), rng=rng)
    Q, K, V = from_np(q, device), from_np(k, device), from_np(v, device)
    assert_close(F.scaled_dot_product_attention(Q, K, V, attn_mask=from_np(bmask, device)),
                 np_sdpa(q, k, v, bmask).astype(np.float32), rtol=1e-4, atol=1e-5)
    assert_close(F.scaled_dot_product_attention(Q, K, V, attn_mask=from_np(fmask, device)),
                 np_sdpa(q, k, v, fmask).astype(np.float32), rtol=1e-4, atol=1e-5)
    assert_close(F.scaled_dot_product_attention(Q, K, V, is_causal=True),
                 np_sdpa(q, k, v, causal=True).astype(np.float32), rtol=1e-4, atol=1e-5)


def test_sdpa_zero_size():
    q = ranvier.zeros(2, 0, 4)
    k = ranvier.zeros(2, 3, 4)
    v = ranvier.zeros(2, 3, 5)
    assert tuple(F.scaled_dot_product_attention(q, k, v).shape) == (2, 0, 5)


def test_sdpa_float64_and_dropout_eval_equivalence():
    rng = np.random.default_rng(4)
    q, k, v = (rand_np((3, 4), dtype=np.float64, rng=rng) for _ in range(3))
    out = F.scaled_dot_product_attention(from_np(q), from_np(k), from_np(v))
    assert_close(out, np_sdpa(q, k, v), rtol=1e-10, atol=1e-12)
    # dropout_p = 1 drops every weight
    out = F.scaled_dot_product_attention(from_np(q), from_np(k), from_np(v), dropout_p=1.0)
    assert_close(out, np.zeros((3, 4)))


def test_sdpa_gradcheck():
    rng = np.random.default_rng(5)
    q = rand_np((2, 3, 4), dtype=np.float64, rng=rng)
    k = rand_np((2, 5, 4), dtype=np.float64, rng=rng)
    v = rand_np((2, 5, 2), dtype=np.float64, rng=rng)
    assert gradcheck(lambda a, b, c: F.scaled_dot_product_attention(a, b, c), q, k, v)
    assert gradcheck(lambda a, b, c: F.scaled_dot_product_attention(a, b, c, is_causal=True),
                     q, k, v)
    m = from_np(rand_np((3, 5), dtype=np.float64, rng=rng))
    assert gradcheck(lambda a, b, c: F.scaled_dot_product_attention(a, b, c, attn_mask=m),
                     q, k, v)


def test_sdpa_broadcast_batch_and_causal_blocks():
    rng = np.random.default_rng(10)
    q = rand_np((2, 1, 70, 3), rng=rng)
    k = rand_np((3, 130, 3), rng=rng)
    v = rand_np((1, 130, 2), rng=rng)
    out = F.scaled_dot_product_attention(from_np(q), from_np(k), from_np(v), is_causal=True)
    assert_close(out, np_sdpa(q, k, v, causal=True).astype(np.float32), rtol=1e-4, atol=1e-5)
    m = rand_np((130,), rng=rng)
    out = F.scaled_dot_product_attention(from_np(q), from_np(k), from_np(v), attn_mask=from_np(m))
    assert_close(out, np_sdpa(q, k, v, m).astype(np.float32), rtol=1e-4, atol=1e-5)


def test_sdpa_gradcheck_blocks_and_mask_grad():
    rng = np.random.default_rng(11)
    q = rand_np((1, 3, 2), dtype=np.float64, rng=rng)
    k = rand_np((1, 70, 2), dtype=np.float64, rng=rng)
    v = rand_np((1, 70, 2), dtype=np.float64, rng=rng)
    assert gradcheck(lambda a, b, c: F.scaled_dot_product_attention(a, b, c), q, k, v)
    bm = from_np(rng.integers(0, 2, size=(3, 70)).astype(bool) | (np.arange(70) == 0))
    assert gradcheck(lambda a, b, c: F.scaled_dot_product_attention(a, b, c, attn_mask=bm),
                     q, k, v)
    # a float mask that requires grad takes the composite path and receives a gradient
    m = rand_np((3, 70), dtype=np.float64, rng=rng)
    assert gradcheck(lambda a, c, mm: F.scaled_dot_product_attention(
        a, a, c[:, :3], attn_mask=mm[:, :3]), q, v, m)


def test_sdpa_grad_only_some_inputs_and_double_backward():
    rng = np.random.default_rng(12)
    q = from_np(rand_np((2, 4, 3), dtype=np.float64, rng=rng), requires_grad=True)
    k = from_np(rand_np((2, 5, 3), dtype=np.float64, rng=rng))
    v = from_np(rand_np((2, 5, 3), dtype=np.float64, rng=rng), requires_grad=True)
    out = F.scaled_dot_product_attention(q, k, v)
    out.sum().backward()
    assert q.grad is not None and v.grad is not None and k.grad is None
    out = F.scaled_dot_product_attention(q, k, v)
    with pytest.raises(NotImplementedError, match="scaled_dot_product_attention: double backward"):
        ranvier.autograd.grad(out.sum(), (q,), create_graph=True)


@pytest.mark.parametrize("dtype", [ranvier.bfloat16, ranvier.float16], ids=str)
def test_sdpa_16_bit(dtype, device):
    # 16-bit inputs run the fused kernel on float32 copies: the result is the float32 attention
    # of the rounded inputs, rounded once; gradients come back in the input dtype
    rng = np.random.default_rng(11)
    q, k, v = (rng.uniform(-1, 1, (2, 5, 8)) for _ in range(3))
    fmask = rng.uniform(-1, 1, (5, 5))
    bmask = rng.uniform(size=(5, 5)) < 0.7
    bmask[:, 0] = True
    eps = 2.0 ** -7 if dtype == ranvier.bfloat16 else 2.0 ** -10

    def rounded(a):
        return from_np(a, device).to(dtype).float().cpu().numpy().astype(np.float64)
    for kwargs, mask in (({"is_causal": True}, None), ({}, fmask), ({}, bmask)):
        Q, K, V = (from_np(a, device).to(dtype).requires_grad_(True) for a in (q, k, v))
        m = None if mask is None else from_np(mask, device)
        if m is not None and mask.dtype != np.bool_:
            m = m.to(dtype)
        out = F.scaled_dot_product_attention(Q, K, V, attn_mask=m, **kwargs)
        assert out.dtype == dtype and out.device == Q.device
        ref = np_sdpa(rounded(q), rounded(k), rounded(v),
                      None if mask is None else (mask if mask.dtype == np.bool_ else rounded(mask)),
                      causal=kwargs.get("is_causal", False))
        np.testing.assert_allclose(out.float().detach().cpu().numpy(), ref, rtol=2 * eps,
                                   atol=2 * eps)
        out.float().sum().backward()
        assert Q.grad.dtype == dtype and np.isfinite(Q.grad.float().cpu().numpy()).all()
        # d(sum of out)/dV[j] = the attention key j gets, summed over the queries
        probs = np_sdpa(rounded(q), rounded(k), np.eye(5)[None].repeat(2, 0),
                        None if mask is None else
                        (mask if mask.dtype == np.bool_ else rounded(mask)),
                        causal=kwargs.get("is_causal", False))
        np.testing.assert_allclose(V.grad.float().cpu().numpy(),
                                   np.repeat(probs.sum(axis=-2)[..., None], 8, axis=-1),
                                   rtol=4 * eps, atol=4 * eps)


def test_sdpa_errors():
    q, k, v = ranvier.zeros(2, 3, 4), ranvier.zeros(2, 5, 4), ranvier.zeros(2, 5, 6)
    with pytest.raises(RuntimeError, match=r"scaled_dot_product_attention.*same last dim"):
        F.scaled_dot_product_attention(q, ranvier.zeros(2, 5, 3), v)
    with pytest.raises(RuntimeError, match=r"scaled_dot_product_attention.*sequence length"):
        F.scaled_dot_product_attention(q, k, ranvier.zeros(2, 4, 6))
    with pytest.raises(RuntimeError, match=r"attn_mask of shape \(3, 4\).*\(2, 3, 5\)"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=ranvier.zeros(3, 4))
    with pytest.raises(RuntimeError, match=r"scaled_dot_product_attention.*dtype"):
        F.scaled_dot_product_attention(q, k.double(), v)
    with pytest.raises(RuntimeError, match=r"attn_mask and is_causal"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=ranvier.zeros(3, 5), is_causal=True)


def test_fused_op_errors_name_the_op_and_shapes():
    """The C++ op under F.scaled_dot_product_attention takes [*batch, L, E] operands with the
    same batch dims; anything else is a RuntimeError naming the op and showing the shapes."""
    op = ranvier._C._scaled_dot_product_attention
    q, k, v = ranvier.zeros(2, 3, 4), ranvier.zeros(2, 5, 4), ranvier.zeros(2, 5, 6)
    with pytest.raises(RuntimeError, match=r"scaled_dot_product_attention.*at least 3.*\[3, 4\]"):
        op(ranvier.zeros(3, 4), ranvier.zeros(5, 4), ranvier.zeros(5, 6), None, 1.0, False)
    with pytest.raises(RuntimeError, match=r"scaled_dot_product_attention.*same number of dims"):
        op(q, k.unsqueeze(0), v, None, 1.0, False)
    with pytest.raises(RuntimeError, match=r"scaled_dot_product_attention: shapes do not match.*"
                                           r"\[2, 3, 4\].*\[3, 5, 4\]"):
        op(q, ranvier.zeros(3, 5, 4), ranvier.zeros(3, 5, 6), None, 1.0, False)
    with pytest.raises(RuntimeError, match=r"scaled_dot_product_attention.*mask of shape "
                                           r"\[2, 3, 5\]"):
        op(q, k, v, ranvier.zeros(1, 3, 5), 1.0, False)


# ---------------------------------------------------------------- multi-head attention

def np_mha(q, k, v, w_in, b_in, w_out, b_out, nheads, attn_mask=None, kpm=None):
    """Sequence-first (L, N, E) inputs; returns (out, averaged weights)."""
    L, N, E = q.shape
    S = k.shape[0]
    d = E // nheads
    wq, wk, wv = np.split(w_in, 3)
    bq, bk, bv = np.split(b_in, 3)
    Q = (q @ wq.T + bq).reshape(L, N, nheads, d).transpose(1, 2, 0, 3)
    K = (k @ wk.T + bk).reshape(S, N, nheads, d).transpose(1, 2, 0, 3)
    V = (v @ wv.T + bv).reshape(S, N, nheads, d).transpose(1, 2, 0, 3)
    s = Q @ np.swapaxes(K, -1, -2) / math.sqrt(d)
    if attn_mask is not None:
        s = s + (np.where(attn_mask, -np.inf, 0.0) if attn_mask.dtype == np.bool_
                 else attn_mask)
    if kpm is not None:
        s = np.where(kpm[:, None, None, :], -np.inf, s)
    w = np_softmax(s)
    o = (w @ V).transpose(2, 0, 1, 3).reshape(L, N, E)
    return o @ w_out.T + b_out, w.mean(axis=1)


def _np_params(m):
    return [p.detach().numpy().astype(np.float64) for p in
            (m.in_proj_weight, m.in_proj_bias, m.out_proj.weight, m.out_proj.bias)]


@pytest.mark.parametrize("batch_first", [False, True])
def test_mha_forward_vs_numpy(batch_first):
    ranvier.manual_seed(0)
    m = nn.MultiheadAttention(8, 2, batch_first=batch_first)
    rng = np.random.default_rng(6)
    with ranvier.no_grad():
        m.in_proj_bias.copy_(from_np(rand_np((24,), rng=rng)))
        m.out_proj.bias.copy_(from_np(rand_np((8,), rng=rng)))
    q, k, v = rand_np((5, 3, 8), rng=rng), rand_np((7, 3, 8), rng=rng), rand_np((7, 3, 8), rng=rng)
    kpm = np.zeros((3, 7), dtype=bool)
    kpm[1, 4:] = True
    amask = rand_np((5, 7), rng=rng)
    args = [from_np(x.transpose(1, 0, 2) if batch_first else x) for x in (q, k, v)]
    out, w = m(*args, key_padding_mask=from_np(kpm), attn_mask=from_np(amask))
    eo, ew = np_mha(q, k, v, *_np_params(m), 2, amask, kpm)
    if batch_first:
        eo = eo.transpose(1, 0, 2)
    assert_close(out, eo.astype(np.float32), rtol=1e-4, atol=1e-5)
    assert_close(w, ew.astype(np.float32), rtol=1e-4, atol=1e-5)
    _, w_all = m(*args, average_attn_weights=False)
    assert tuple(w_all.shape) == (3, 2, 5, 7)
    out2, none = m(*args, need_weights=False)
    assert none is None and tuple(out2.shape) == tuple(out.shape)


def test_mha_bool_attn_mask_and_unbatched():
    ranvier.manual_seed(1)
    m = nn.MultiheadAttention(6, 3)
    rng = np.random.default_rng(7)
    q, k = rand_np((4, 6), rng=rng), rand_np((5, 6), rng=rng)
    bm = np.triu(np.ones((4, 5), dtype=bool), 1)  # True = not allowed
    out, w = m(from_np(q), from_np(k), from_np(k), attn_mask=from_np(bm))
    eo, ew = np_mha(q[:, None], k[:, None], k[:, None], *_np_params(m), 3, bm)
    assert_close(out, eo[:, 0].astype(np.float32), rtol=1e-4, atol=1e-5)
    assert_close(w, ew[0].astype(np.float32), rtol=1e-4, atol=1e-5)


def test_mha_parameters_and_kdim():
    m = nn.MultiheadAttention(8, 4)
    names = {n: tuple(p.shape) for n, p in m.named_parameters()}
    assert names == {"in_proj_weight": (24, 8), "in_proj_bias": (24,),
                     "out_proj.weight": (8, 8), "out_proj.bias": (8,)}
    assert np.all(m.in_proj_bias.detach().numpy() == 0)
    m2 = nn.MultiheadAttention(8, 2, kdim=3, vdim=5, bias=False)
    names = {n: tuple(p.shape) for n, p in m2.named_parameters()}
    assert names == {"q_proj_weight": (8, 8), "k_proj_weight": (8, 3),
                     "v_proj_weight": (8, 5), "out_proj.weight": (8, 8)}
    out, w = m2(ranvier.randn(4, 2, 8), ranvier.randn(6, 2, 3), ranvier.randn(6, 2, 5))
    assert tuple(out.shape) == (4, 2, 8) and tuple(w.shape) == (2, 4, 6)


def test_mha_gradcheck():
    rng = np.random.default_rng(8)
    w_in = rand_np((12, 4), dtype=np.float64, rng=rng)
    b_in = rand_np((12,), dtype=np.float64, rng=rng)
    w_out = rand_np((4, 4), dtype=np.float64, rng=rng)
    x = rand_np((3, 2, 4), dtype=np.float64, rng=rng)

    def fn(x, wi, bi, wo):
        return F.multi_head_attention_forward(x, x, x, 4, 2, wi, bi, None, None, False, 0.0, wo,
                                              None, need_weights=False)[0]
    assert gradcheck(fn, x, w_in, b_in, w_out)


def test_mha_eval_determinism_and_dropout():
    ranvier.manual_seed(2)
    m = nn.MultiheadAttention(8, 2, dropout=0.5).eval()
    x = ranvier.randn(4, 3, 8)
    a, _ = m(x, x, x)
    b, _ = m(x, x, x)
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())


def test_mha_errors():
    with pytest.raises(ValueError, match=r"embed_dim \(10\) must be divisible by num_heads \(3\)"):
        nn.MultiheadAttention(10, 3)
    m = nn.MultiheadAttention(8, 2)
    x = ranvier.randn(4, 3, 8)
    with pytest.raises(RuntimeError, match=r"expecting embedding dimension of 8, but got 6"):
        m(ranvier.randn(4, 3, 6), x, x)
    with pytest.raises(RuntimeError, match=r"2D attn_mask is \(4, 5\), but should be \(4, 4\)"):
        m(x, x, x, attn_mask=ranvier.zeros(4, 5))
    with pytest.raises(RuntimeError, match=r"3D attn_mask is \(3, 4, 4\)"):
        m(x, x, x, attn_mask=ranvier.zeros(3, 4, 4))
    with pytest.raises(RuntimeError, match=r"key_padding_mask shape of \(3, 4\), but got \(3, 5\)"):
        m(x, x, x, key_padding_mask=ranvier.zeros(3, 5, dtype=ranvier.bool))
    with pytest.raises(RuntimeError, match=r"key shape \(5, 3, 8\) does not match value shape"):
        m(x, ranvier.randn(5, 3, 8), ranvier.randn(6, 3, 8))
    with pytest.raises(RuntimeError, match=r"query batch 3 does not match key batch 2"):
        m(x, ranvier.randn(4, 2, 8), ranvier.randn(4, 2, 8))


def test_mha_vs_torch():
    torch = pytest.importorskip("torch")
    tm = torch.nn.MultiheadAttention(8, 2, batch_first=True).eval()
    rm = nn.MultiheadAttention(8, 2, batch_first=True).eval()
    rm.load_state_dict({k: from_np(v.detach().numpy()) for k, v in tm.state_dict().items()})
    x = np.random.default_rng(9).standard_normal((3, 5, 8)).astype(np.float32)
    kpm = np.zeros((3, 5), dtype=bool)
    kpm[0, 3:] = True
    to, tw = tm(*(torch.from_numpy(x),) * 3, key_padding_mask=torch.from_numpy(kpm))
    ro, rw = rm(*(from_np(x),) * 3, key_padding_mask=from_np(kpm))
    assert_close(ro, to.detach().numpy(), rtol=1e-4, atol=1e-5)
    assert_close(rw, tw.detach().numpy(), rtol=1e-4, atol=1e-5)


def _heads(x, B, T, H, D):
    """[B, T, H * D] -> [B, H, T, D] (a view, as a GPT block makes its heads)."""
    return x.view(B, T, H, D).transpose(1, 2)


def test_sdpa_on_head_views_of_a_fused_projection():
    """q, k, v as head views of one [B, T, 3C] tensor (strided rows, interleaved heads), as a
    GPT block makes them: values and all gradients against NumPy, and on the CPU the output
    and gradients come back in the views' memory order, so the transposes back to [B, T, C]
    are free."""
    rng = np.random.default_rng(21)
    B, T, H, D = 3, 70, 4, 8
    C = H * D
    x = rand_np((B, T, 3 * C), rng=rng)
    gout = rand_np((B, H, T, D), rng=rng)
    qkv = from_np(x, requires_grad=True)
    q, k, v = (_heads(t, B, T, H, D) for t in qkv.split(C, dim=2))
    out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    xq, xk, xv = (x[..., i * C:(i + 1) * C].reshape(B, T, H, D).transpose(0, 2, 1, 3)
                  for i in range(3))
    assert_close(out, np_sdpa(xq, xk, xv, causal=True).astype(np.float32), rtol=1e-4,
                 atol=1e-5)
    assert out.transpose(1, 2).is_contiguous()
    out.backward(from_np(gout))
    # the reference gradients, by the chain rule in float64
    s = np.matmul(xq, np.swapaxes(xk, -1, -2)) / math.sqrt(D)
    s = np.where(np.tril(np.ones((T, T), dtype=bool)), s, -np.inf)
    p = np_softmax(s)
    g = gout.astype(np.float64)
    dv = np.matmul(np.swapaxes(p, -1, -2), g)
    dp = np.matmul(g, np.swapaxes(xv, -1, -2))
    ds = p * (dp - (dp * p).sum(-1, keepdims=True)) / math.sqrt(D)
    dq, dk = np.matmul(ds, xk), np.matmul(np.swapaxes(ds, -1, -2), xq)
    ref = np.concatenate([t.transpose(0, 2, 1, 3).reshape(B, T, C) for t in (dq, dk, dv)], -1)
    assert_close(qkv.grad, ref.astype(np.float32), rtol=1e-4, atol=1e-5)


def test_sdpa_gradcheck_head_views_broadcast_and_many_batch_dims():
    rng = np.random.default_rng(22)
    B, T, H, D = 2, 5, 2, 3
    x = rand_np((B, T, 3 * H * D), dtype=np.float64, rng=rng)

    def heads_attention(t):
        q, k, v = (_heads(u, B, T, H, D) for u in t.split(H * D, dim=2))
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)
    assert gradcheck(heads_attention, x)
    # keys and values broadcast over the batch (stride 0 dims), a mask over two batch dims
    q = rand_np((2, 3, 4, 3), dtype=np.float64, rng=rng)
    k = rand_np((1, 3, 6, 3), dtype=np.float64, rng=rng)
    v = rand_np((3, 6, 2), dtype=np.float64, rng=rng)
    m = from_np(rand_np((2, 1, 4, 6), dtype=np.float64, rng=rng))
    assert gradcheck(lambda a, b, c: F.scaled_dot_product_attention(a, b, c, attn_mask=m),
                     q, k, v)
    out = F.scaled_dot_product_attention(from_np(q), from_np(k), from_np(v), attn_mask=m)
    assert_close(out, np_sdpa(q, k, v, m.numpy()), rtol=1e-10, atol=1e-12)
    # more batch dims than the strided form holds (4): the inputs are flattened first
    q5 = rand_np((2, 1, 2, 1, 2, 3, 2), dtype=np.float64, rng=rng)
    k5 = rand_np((2, 1, 2, 1, 2, 4, 2), dtype=np.float64, rng=rng)
    assert gradcheck(lambda a, b: F.scaled_dot_product_attention(a, b, b), q5, k5)
    out = F.scaled_dot_product_attention(from_np(q5), from_np(k5), from_np(k5))
    assert_close(out, np_sdpa(q5, k5, k5), rtol=1e-10, atol=1e-12)


def test_sdpa_inputs_whose_last_dim_is_strided():
    rng = np.random.default_rng(23)
    q = rand_np((2, 4, 5), rng=rng)
    k = rand_np((2, 6, 5), rng=rng)
    v = rand_np((2, 6, 3), rng=rng)
    tq = from_np(np.ascontiguousarray(np.swapaxes(q, -1, -2))).transpose(-1, -2)
    tk = from_np(np.repeat(k, 2, axis=-1))[..., ::2]
    out = F.scaled_dot_product_attention(tq, tk, from_np(v))
    assert_close(out, np_sdpa(q, k, v).astype(np.float32), rtol=1e-4, atol=1e-5)
