"""CUDA scaled dot-product attention kernels (skipped without a CUDA device): the fused op
(_C._scaled_dot_product_attention on [B, L, E] / [B, S, E] / [B, S, Ev]) on CUDA against the
CPU, forward (output) and backward (query, key and value gradients), for float32 and float64,
with odd sizes, a scale, causal masks with L < S and L > S, additive masks with broadcast
(stride 0) dims and rows that allow no key (NaN outputs, as on the CPU), E = 0, and the errors
for dtypes the op does not take; float16 / bfloat16 (flash kernels, or float32 copies) against
float64 NumPy. Gradients via .backward(g)."""
import numpy as np
import pytest

import ranvier
from helpers import from_np, to_np

_C = ranvier._C
pytestmark = pytest.mark.skipif(not ranvier.cuda.is_available(), reason="no CUDA device")

DTYPES = [ranvier.float32, ranvier.float64]
TOL = {ranvier.float32: 3e-5, ranvier.float64: 1e-12}


def rnd(shape, seed=0):
    return np.random.default_rng(seed).uniform(-1.0, 1.0, size=shape)


def on(a, dtype, device):
    return from_np(a).to(dtype).to(device)


def vals(t):
    return to_np(t.detach().cpu())


def mask_array(b, l, s, kind, seed=5):
    """An additive mask before expansion to [b, l, s] (shape and array)."""
    r = np.random.default_rng(seed)
    if kind == "batch_broadcast":
        m = r.uniform(-2, 2, size=(1, l, s))
        m[0, :, 0] = -np.inf  # a key nobody may see
        return m
    if kind == "row_broadcast":
        return np.where(r.uniform(size=(b, 1, s)) < 0.3, -np.inf, r.uniform(-1, 1, (b, 1, s)))
    if kind == "empty_rows":
        m = r.uniform(-1, 1, size=(b, l, s))
        m[0, 1, :] = -np.inf  # row 1 of entry 0 may attend to nothing
        return m
    return None


def run(device, dtype, b, l, s, e, ev, scale, causal, kind, seed=0):
    q = on(rnd((b, l, e), seed), dtype, device).requires_grad_(True)
    k = on(rnd((b, s, e), seed + 1), dtype, device).requires_grad_(True)
    v = on(rnd((b, s, ev), seed + 2), dtype, device).requires_grad_(True)
    m = mask_array(b, l, s, kind)
    mask = None if m is None else on(m, dtype, device).expand(b, l, s)
    out = _C._scaled_dot_product_attention(q, k, v, mask, scale, causal)
    g = rnd((b, l, ev), seed + 3)
    if kind == "empty_rows":
        g[0, 1, :] = 0.0
    out.backward(on(g, dtype, device))
    return [out, q.grad, k.grad, v.grad]


CASES = [  # (B, L, S, E, Ev, scale, causal, mask kind)
    (3, 5, 7, 4, 6, 0.5, False, None),
    (1, 1, 1, 1, 1, 1.0, False, None),
    (2, 9, 4, 3, 5, 0.3, True, None),      # causal, L > S
    (2, 4, 9, 3, 2, 0.7, True, None),      # causal, L < S
    (2, 6, 6, 8, 8, 0.35, False, "batch_broadcast"),
    (3, 4, 5, 2, 3, 1.3, False, "row_broadcast"),
    (2, 3, 4, 5, 2, 0.5, False, "empty_rows"),
    (2, 3, 4, 0, 3, 1.0, False, None),     # E = 0: uniform attention
    (2, 70, 130, 16, 24, 0.25, True, None),  # several CUDA blocks per row
]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(map(str, c)))
def test_attention_matches_cpu(dtype, case):
    cuda, cpu = run("cuda", dtype, *case), run("cpu", dtype, *case)
    assert cuda[0].is_cuda and cuda[0].dtype == dtype
    for a, b in zip(cuda, cpu):
        assert a.shape == b.shape
        np.testing.assert_allclose(vals(a), vals(b), rtol=TOL[dtype], atol=TOL[dtype],
                                   equal_nan=True)


def test_empty_row_gives_nan():
    out = run("cuda", ranvier.float64, 2, 3, 4, 5, 2, 0.5, False, "empty_rows")[0]
    o = vals(out)
    assert np.isnan(o[0, 1]).all() and not np.isnan(o[0, 0]).any() and not np.isnan(o[1]).any()


def test_noncontiguous_inputs():
    q = on(rnd((4, 3, 2)), ranvier.float32, "cuda").transpose(0, 1)  # [3, 4, 2]
    k = on(rnd((3, 5, 4), 1), ranvier.float32, "cuda")[:, :, ::2]
    v = on(rnd((3, 5, 3), 2), ranvier.float32, "cuda")
    out = _C._scaled_dot_product_attention(q, k, v, None, 0.5, False)
    ref = _C._scaled_dot_product_attention(q.cpu(), k.cpu(), v.cpu(), None, 0.5, False)
    np.testing.assert_allclose(vals(out), vals(ref), rtol=3e-5, atol=3e-5)


def test_16_bit_on_cpu_raises():
    q = ranvier.zeros(1, 2, 2, dtype=ranvier.float16)
    with pytest.raises(TypeError, match="scaled_dot_product_attention.*float32 or float64"):
        _C._scaled_dot_product_attention(q, q, q, None, 1.0, False)


def reference(q, k, v, g, mask, scale, causal):
    """Attention and its gradients in float64 NumPy."""
    sc = scale * q @ k.transpose(0, 2, 1)
    if mask is not None:
        sc = sc + mask
    if causal:
        l, s = sc.shape[1:]
        sc = np.where(np.arange(s)[None, :] <= np.arange(l)[:, None], sc, -np.inf)
    p = np.exp(sc - sc.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    out = p @ v
    dp = g @ v.transpose(0, 2, 1)
    ds = p * (dp - (g * out).sum(-1, keepdims=True))
    return [out, scale * ds @ k, scale * ds.transpose(0, 2, 1) @ q, p.transpose(0, 2, 1) @ g]


HALF_CASES = [  # (B, L, S, E, scale, causal, mask kind)
    (2, 64, 64, 64, 0.125, True, None),     # flash kernels, whole tiles
    (3, 100, 100, 64, 0.125, True, None),   # partial tiles
    (2, 37, 150, 32, 0.2, False, None),     # L < S
    (2, 150, 37, 16, 0.3, True, None),      # causal, L > S
    (1, 130, 70, 64, 0.25, True, None),
    (2, 20, 30, 48, 0.2, False, None),      # a head dim without flash kernels: float32 copies
    (2, 6, 6, 8, 0.35, False, "batch_broadcast"),  # a mask: float32 copies
]


@pytest.mark.parametrize("dtype", [ranvier.float16, ranvier.bfloat16], ids=str)
@pytest.mark.parametrize("case", HALF_CASES, ids=lambda c: "-".join(map(str, c)))
def test_16_bit_attention(dtype, case):
    """float16 / bfloat16 on CUDA (flash kernels where they apply) against float64 NumPy on the
    rounded inputs: scores, softmax and sums in float32, so within a few 16-bit steps."""
    b, l, s, e, scale, causal, kind = case
    ts = [on(rnd(shape, seed), dtype, "cuda") for seed, shape in
          enumerate([(b, l, e), (b, s, e), (b, s, e), (b, l, e)])]
    q, k, v, g = [t.requires_grad_(i < 3) for i, t in enumerate(ts)]
    m = mask_array(b, l, s, kind)
    mask = None if m is None else on(m, dtype, "cuda").expand(b, l, s)
    out = _C._scaled_dot_product_attention(q, k, v, mask, scale, causal)
    out.backward(g)
    got = [out, q.grad, k.grad, v.grad]
    assert all(t.dtype == dtype and t.is_cuda for t in got)
    ref = reference(*[vals(t.double()) for t in (q, k, v, g)],
                    None if mask is None else vals(mask.double()), scale, causal)
    tol = 3e-2 if dtype == ranvier.bfloat16 else 4e-3
    for a, r in zip(got, ref):
        np.testing.assert_allclose(vals(a.double()), r, rtol=tol, atol=tol)


def test_16_bit_gpt_shaped_attention():
    """F.scaled_dot_product_attention on [B, H, T, 64] bfloat16 views of one qkv tensor, as a
    GPT block makes them, against the float32 result on the same rounded inputs."""
    F = ranvier.nn.functional
    qkv = on(rnd((2, 96, 3 * 128), 7), ranvier.bfloat16, "cuda")
    q, k, v = [t.view(2, 96, 2, 64).transpose(1, 2) for t in qkv.split(128, dim=2)]
    got = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    exp = F.scaled_dot_product_attention(q.float(), k.float(), v.float(), is_causal=True)
    assert got.dtype == ranvier.bfloat16 and got.shape == (2, 2, 96, 64)
    np.testing.assert_allclose(vals(got.float()), vals(exp), rtol=2e-2, atol=2e-2)
