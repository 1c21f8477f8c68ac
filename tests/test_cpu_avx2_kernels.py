"""The AVX2 + FMA copies of three CPU kernel families against float64 NumPy references:
scaled_dot_product_attention's row passes (kernels/cpu/attention_rows_avx2.cpp: softmax with
logsumexp, the probabilities recomputed from it, dS), the few-row GEMM behind Linear at batch
1-4 under no_grad (kernels/cpu/gemv.cpp) and the 2x2 / stride 2 max pool
(kernels/cpu/pool_2x2). On an AVX2 machine the tests in this process run the AVX2 copies; the
subprocess tests run the same checks under RANVIER_CPU_CAPABILITY=avx2 and =default, so that a
machine with AVX-512 covers the AVX2 and portable copies too. Shapes are chosen around the
vectors' edges: key counts, head sizes, k and pooled widths that are not multiples of 8 or 16,
rows with no allowed key, several query blocks, and thread counts 1, 2 and 3 giving the same
bits."""
import math

import numpy as np
import pytest

import ranvier
import ranvier.nn.functional as F
from helpers import from_np, np_max_pool_2x2, run_checks_at_capability, to_np



def with_threads(n, fn):
    old = ranvier.get_num_threads()
    ranvier.set_num_threads(n)
    try:
        return fn()
    finally:
        ranvier.set_num_threads(old)


# ---------------------------------------------------------------- attention

def ref_sdpa(q, k, v, g, mask=None, causal=False, scale=None):
    """out and the gradients of sum(out * g) with respect to q, k, v, in float64, and which
    rows have no allowed key (their out is NaN in ranvier, their gradients zero)."""
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    L, S = q.shape[-2], k.shape[-2]
    s = (q @ np.swapaxes(k, -1, -2)) * scale
    allowed = np.ones((L, S), dtype=bool)
    if causal:
        allowed &= np.tril(np.ones((L, S), dtype=bool))
    if mask is not None and mask.dtype == np.bool_:
        allowed = allowed & mask
    elif mask is not None:
        s = s + mask
    allowed = np.broadcast_to(allowed, s.shape) & (s > -np.inf)
    m = np.max(np.where(allowed, s, -np.inf), axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    e = np.where(allowed, np.exp(np.where(allowed, s, 0.0) - m), 0.0)
    den = e.sum(-1, keepdims=True)
    p = e / np.where(den == 0, 1.0, den)
    out = p @ v
    ds = p * (g @ np.swapaxes(v, -1, -2) - (g * out).sum(-1, keepdims=True)) * scale
    grads = (ds @ k, np.swapaxes(ds, -1, -2) @ q, np.swapaxes(p, -1, -2) @ g)
    return out, grads, den[..., 0] == 0


def run_sdpa(q, k, v, g, mask=None, **kw):
    """ranvier's float32 forward and backward: out, gq, gk, gv as NumPy arrays."""
    Q, K, V = (from_np(a.astype(np.float32), requires_grad=True) for a in (q, k, v))
    if mask is not None:
        kw["attn_mask"] = from_np(mask if mask.dtype == np.bool_ else mask.astype(np.float32))
    out = F.scaled_dot_product_attention(Q, K, V, **kw)
    out.backward(from_np(g.astype(np.float32)))
    return [to_np(t) for t in (out, Q.grad, K.grad, V.grad)]


def sdpa_inputs(shape, seed):
    B, H, L, S, E, Ev = shape
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((B, H, L, E)), rng.standard_normal((B, H, S, E)),
            rng.standard_normal((B, H, S, Ev)), rng.standard_normal((B, H, L, Ev)))


def check_sdpa(shape, causal=False, mask=None, scale=None, seed=0, tol=2e-4):
    q, k, v, g = sdpa_inputs(shape, seed)
    kw = {"is_causal": causal}
    if scale is not None:
        kw["scale"] = scale
    got = run_sdpa(q, k, v, g, mask=mask, **kw)
    out, grads, empty = ref_sdpa(q, k, v, g, mask=mask, causal=causal, scale=scale)
    # a row without an allowed key: NaN output (as PyTorch), nothing flows back from it
    assert np.isnan(got[0][empty]).all()
    assert not np.isnan(got[0][~empty]).any()
    np.testing.assert_allclose(got[0][~empty], out[~empty], rtol=tol, atol=tol / 10)
    if empty.any():
        assert np.all(got[1][empty] == 0)
    for a, b in zip(got[1:], grads):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol / 10)
    return got


# (B, H, L, S, E, Ev): the gpt block's shape, odd key counts and head sizes, several 64-row
# query blocks (the causal split into two parts), one key, more keys than queries
SDPA_SHAPES = [(2, 2, 64, 64, 32, 32), (1, 2, 13, 29, 16, 11), (2, 1, 70, 71, 8, 5),
               (1, 2, 23, 23, 17, 9), (1, 1, 1, 1, 3, 2), (1, 2, 40, 130, 24, 33),
               (1, 1, 130, 130, 7, 15)]


@pytest.mark.parametrize("shape", SDPA_SHAPES)
@pytest.mark.parametrize("causal", [False, True])
def test_sdpa_forward_backward_matches_numpy(shape, causal):
    check_sdpa(shape, causal=causal, seed=sum(shape))


@pytest.mark.parametrize("shape", [(1, 2, 37, 45, 24, 20), (2, 1, 67, 19, 9, 17)])
def test_sdpa_masks_with_rows_without_keys(shape):
    """A boolean mask with whole rows masked out (one in each 64-row block), and an additive
    float mask with -inf entries and a row of -inf, with custom scales."""
    L, S = shape[2], shape[3]
    rng = np.random.default_rng(L + S)
    bmask = rng.random((L, S)) < 0.6
    bmask[[3, L - 1]] = False
    check_sdpa(shape, mask=bmask, scale=0.7, seed=1)
    fmask = rng.standard_normal((L, S))
    fmask[rng.random((L, S)) < 0.2] = -np.inf
    fmask[5] = -np.inf
    check_sdpa(shape, mask=fmask, scale=1.3, seed=2)
    # a causal pattern given as a mask (is_causal and a mask do not combine)
    check_sdpa(shape, mask=bmask & np.tril(np.ones((L, S), dtype=bool)), seed=3)


@pytest.mark.parametrize("shape", [(1, 2, 19, 19, 8, 8), (1, 1, 33, 50, 16, 7)])
def test_sdpa_negative_scale(shape):
    check_sdpa(shape, scale=-0.4, seed=4)
    check_sdpa(shape, causal=True, scale=-0.4, seed=5)


@pytest.mark.parametrize("causal", [False, True])
def test_sdpa_recomputed_probabilities(causal):
    """Past 2^22 probabilities (B L S) the forward keeps only the logsumexp and the backward
    recomputes them (attn_probs_rows): an odd key count, and a masked-out row."""
    L, S = 2050, 2051
    mask = None
    if not causal:
        mask = np.ones((L, S), dtype=bool)
        mask[7] = False
        mask[:, 100:140] = False
    check_sdpa((1, 1, L, S, 8, 4), causal=causal, mask=mask, seed=6, tol=5e-4)


def test_sdpa_same_bits_for_1_2_3_threads():
    q, k, v, g = sdpa_inputs((3, 2, 70, 70, 20, 12), 7)
    runs = [with_threads(n, lambda: run_sdpa(q, k, v, g, is_causal=True)) for n in (1, 2, 3)]
    for other in runs[1:]:
        for a, b in zip(runs[0], other):
            np.testing.assert_array_equal(a, b)


def test_sdpa_vector_passes_agree_with_portable_ones():
    """The intrinsics row passes (where the CPU has them) and attention.cpp's own loops: the
    same exp and lane order, so they agree to a few float32 ulps."""
    q, k, v, g = sdpa_inputs((2, 2, 45, 53, 16, 16), 8)
    got = []
    for vector in (True, False):
        prev = ranvier._C._set_attention_rows_vector(vector)
        try:
            got.append(run_sdpa(q, k, v, g, is_causal=True))
        finally:
            ranvier._C._set_attention_rows_vector(prev)
    for a, b in zip(*got):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- Linear at batch 1-4

def check_linear(m, k, n, bias=True, seed=0, strided=False):
    rng = np.random.default_rng(seed)
    big = rng.standard_normal((m, k + 5)).astype(np.float32)
    a = big[:, 3:3 + k] if strided else big[:, :k].copy()
    w = rng.standard_normal((n, k)).astype(np.float32)
    b = rng.standard_normal(n).astype(np.float32) if bias else None
    x = from_np(big)[:, 3:3 + k] if strided else from_np(a)
    with ranvier.no_grad():
        out = F.linear(x, from_np(w), from_np(b) if bias else None)
    want = a.astype(np.float64) @ w.astype(np.float64).T
    if bias:
        want += b
    got = to_np(out)
    assert got.shape == (m, n) and got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=2e-5 * math.sqrt(k))
    return got


@pytest.mark.parametrize("m", [1, 2, 3, 4])
@pytest.mark.parametrize("k,n", [(16, 7), (17, 1), (23, 10), (37, 33), (100, 16), (784, 52)])
def test_linear_few_rows_matches_numpy(m, k, n):
    check_linear(m, k, n, seed=m * 1000 + k + n)


@pytest.mark.parametrize("m", [1, 4])
def test_linear_few_rows_strided_input_and_no_bias(m):
    check_linear(m, 41, 19, bias=False, seed=m, strided=True)
    check_linear(m, 64, 35, bias=True, seed=m + 1, strided=True)


def test_linear_few_rows_same_bits_for_1_2_3_threads():
    # n = 300 outputs: many blocks of 16, spread differently over 1, 2 and 3 threads
    for m in (1, 3):
        runs = [with_threads(t, lambda: check_linear(m, 203, 300, seed=m)) for t in (1, 2, 3)]
        for r in runs[1:]:
            np.testing.assert_array_equal(runs[0], r)


# ---------------------------------------------------------------- max_pool2d(2)

def pool_input(h, w, dtype, seed):
    """Small integers (ties), signed zeros, NaNs with distinct payloads, +-inf."""
    rng = np.random.default_rng(seed)
    x = rng.integers(-2, 3, size=(2, 3, h, w)).astype(dtype)
    x[x == 0] = np.where(rng.random(int((x == 0).sum())) < 0.5, -0.0, 0.0)
    flat = x.reshape(-1)
    pick = rng.permutation(flat.size)
    nn = max(1, flat.size // 12)
    bits = np.uint32 if dtype == np.float32 else np.uint64
    nan_base = 0x7FC00000 if dtype == np.float32 else 0x7FF8000000000000
    flat.view(bits)[pick[:nn]] = nan_base + 1 + np.arange(nn, dtype=bits)
    flat[pick[nn:2 * nn]] = np.inf
    flat[pick[2 * nn:3 * nn]] = -np.inf
    return x


def check_pool(h, w, dtype, seed=0):
    x = pool_input(h, w, dtype, seed)
    out, idx = F.max_pool2d(from_np(x), 2, return_indices=True)
    ro, ri = np_max_pool_2x2(x)
    got = to_np(out)
    assert got.dtype == dtype and got.shape == ro.shape
    bits = np.uint32 if dtype == np.float32 else np.uint64
    # the bits: the sign of a zero and which NaN won
    np.testing.assert_array_equal(got.view(bits), ro.view(bits))
    np.testing.assert_array_equal(to_np(idx), ri)
    return got, to_np(idx)


# pooled widths 1, 8, 9, 15, 16, 17, 14, 23: a partial 8-output step alone, whole steps,
# partial after whole; odd heights and widths leave an input row / column out
POOL_SIZES = [(2, 2), (2, 3), (4, 16), (5, 17), (6, 18), (3, 31), (2, 33), (7, 34), (28, 28),
              (9, 47)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("h,w", POOL_SIZES)
def test_max_pool_2x2_values_and_indices(h, w, dtype):
    check_pool(h, w, dtype, seed=h * 100 + w)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("h,w", [(5, 17), (4, 16), (9, 47)])
def test_max_pool_2x2_gradient(h, w, dtype):
    x = pool_input(h, w, dtype, seed=w)
    t = from_np(x, requires_grad=True)
    y = F.max_pool2d(t, 2)
    gout = np.random.default_rng(h).standard_normal(tuple(y.shape)).astype(dtype)
    y.backward(from_np(gout))
    _, ri = np_max_pool_2x2(x)
    want = np.zeros((2, 3, h * w), dtype)
    for a in range(2):
        for b in range(3):
            np.add.at(want[a, b], ri[a, b].reshape(-1), gout[a, b].reshape(-1))
    np.testing.assert_array_equal(to_np(t.grad), want.reshape(x.shape))


def test_max_pool_2x2_same_bits_for_1_2_3_threads():
    x = from_np(np.random.default_rng(9).standard_normal((5, 7, 13, 37)).astype(np.float32))
    runs = [with_threads(n, lambda: [to_np(t) for t in F.max_pool2d(x, 2, return_indices=True)])
            for n in (1, 2, 3)]
    for r in runs[1:]:
        np.testing.assert_array_equal(runs[0][0], r[0])
        np.testing.assert_array_equal(runs[0][1], r[1])


# ---------------------------------------------------------------- other capability levels

def run_checks():
    """A cut of the checks above, run in a subprocess under RANVIER_CPU_CAPABILITY; prints the
    level in use."""
    for i, shape in enumerate([(2, 2, 64, 64, 32, 32), (1, 2, 13, 29, 16, 11),
                               (2, 1, 70, 71, 8, 5), (1, 2, 40, 130, 24, 33)]):
        for causal in (False, True):
            check_sdpa(shape, causal=causal, seed=i)
    bmask = np.random.default_rng(0).random((37, 45)) < 0.6
    bmask[3] = False
    check_sdpa((1, 2, 37, 45, 24, 20), mask=bmask, scale=0.7, seed=1)
    check_sdpa((1, 2, 19, 19, 8, 8), scale=-0.4, seed=4)
    check_sdpa((1, 1, 2050, 2051, 8, 4), causal=True, seed=6, tol=5e-4)
    test_sdpa_same_bits_for_1_2_3_threads()
    for m in (1, 2, 3, 4):
        for k, n in ((17, 1), (37, 33), (784, 52)):
            check_linear(m, k, n, seed=m * 1000 + k + n)
    test_linear_few_rows_same_bits_for_1_2_3_threads()
    for h, w in POOL_SIZES:
        check_pool(h, w, np.float32, seed=h * 100 + w)
    test_max_pool_2x2_same_bits_for_1_2_3_threads()
    print(ranvier.backends.cpu.get_cpu_capability())


SUPPORTED = ranvier._C._cpu_capability_supported()


@pytest.mark.skipif(SUPPORTED == "DEFAULT", reason="the CPU has no AVX2")
@pytest.mark.parametrize("level", ["avx2", "default"])
def test_capability_levels_in_subprocesses(level):
    run_checks_at_capability(level, "test_cpu_avx2_kernels")
