"""CUDA scaled dot-product attention kernels (skipped without a CUDA device): the fused op
(_C._scaled_dot_product_attention on [B, L, E] / [B, S, E] / [B, S, Ev]) on CUDA against the
CPU, forward (output) and backward (query, key and value gradients), for float32 and float64,
with odd sizes, a scale, causal masks with L < S and L > S, additive masks with broadcast
(stride 0) dims and rows that allow no key (NaN outputs, as on the CPU), E = 0, and the errors
for dtypes the op does not take. Gradients via .backward(g): CUDA has no reductions yet."""
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


def test_float16_raises():
    q = ranvier.zeros(1, 2, 2, dtype=ranvier.float16, device="cuda")
    with pytest.raises(TypeError, match="scaled_dot_product_attention.*float32 or float64"):
        _C._scaled_dot_product_attention(q, q, q, None, 1.0, False)
