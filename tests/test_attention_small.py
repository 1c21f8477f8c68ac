"""The short-sequence float32 attention kernels of AVX2 CPUs (kernels/cpu/attention_small_avx2.cpp,
Note [Small-head attention on AVX2]): bit for bit the general kernels' results where a head has
at most 64 queries (one block there), a float64 NumPy reference elsewhere, the same bits at any
thread count, and the cases they leave to the general kernels. The checks run in this process at
the CPU's own level and in subprocesses at the avx2 and default levels (RANVIER_CPU_CAPABILITY);
the kernels run only at the avx2 level, which the run counter confirms."""
import numpy as np
import pytest

import ranvier
import ranvier.nn.functional as F
from helpers import from_np, run_checks_at_capability, to_np
from test_attention_float32 import np_sdpa_fwd_bwd


def _small_expected():
    return ranvier.backends.cpu.get_cpu_capability() == "AVX2"


def _run(q, k, v, g, small, fused=False, threads=None, **kw):
    """out, gq, gk, gv as float32 arrays; with fused, q, k and v are head views of one
    [B, L, 3 H E] projection, as in a GPT block."""
    prev = ranvier._C._set_attention_small(small)
    old = ranvier.get_num_threads()
    if threads:
        ranvier.set_num_threads(threads)
    try:
        if fused:
            B, H, L, E = q.shape
            x = np.concatenate([a.transpose(0, 2, 1, 3).reshape(B, L, H * E)
                                for a in (q, k, v)], 2)
            X = from_np(x.astype(np.float32), requires_grad=True)
            Q, K, V = (t.view(B, L, H, E).transpose(1, 2) for t in X.split(H * E, dim=2))
        else:
            Q, K, V = (from_np(a.astype(np.float32), requires_grad=True) for a in (q, k, v))
        out = F.scaled_dot_product_attention(Q, K, V, **kw)
        out.backward(from_np(g.astype(np.float32)))
        if fused:
            gx = to_np(X.grad)
            B, H, L, E = q.shape
            grads = [gx[:, :, i * H * E:(i + 1) * H * E].reshape(B, L, H, E).transpose(0, 2, 1, 3)
                     for i in range(3)]
        else:
            grads = [to_np(t.grad) for t in (Q, K, V)]
        return [to_np(out)] + grads
    finally:
        ranvier.set_num_threads(old)
        ranvier._C._set_attention_small(prev)


def _inputs(seed, B, H, L, S, E, Ev):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((B, H, L, E)), rng.standard_normal((B, H, S, E)),
            rng.standard_normal((B, H, S, Ev)), rng.standard_normal((B, H, L, Ev)))


def _ran(before, calls):
    """Whether the kernels ran `calls` more times (a forward and a backward each) since before."""
    return ranvier._C._attention_small_runs() - before == calls


def check_matches_general_bits():
    # (shapes whose causal parts have at least 8 rows: the general kernels hand smaller products
    # to OpenBLAS, whose sums may round differently)
    for i, (B, H, L, S, E, Ev, causal, fused) in enumerate([
            (2, 4, 64, 64, 32, 32, True, True), (2, 4, 64, 64, 32, 32, False, True),
            (1, 3, 50, 50, 24, 40, True, False), (2, 1, 17, 33, 8, 9, True, False),
            (2, 1, 33, 17, 8, 9, True, False), (1, 2, 64, 200, 16, 48, False, False),
            (1, 2, 45, 45, 40, 40, True, True)]):
        q, k, v, g = _inputs(i, B, H, L, S, E, Ev)
        before = ranvier._C._attention_small_runs()
        a = _run(q, k, v, g, True, fused, is_causal=causal)
        assert _ran(before, 2) == _small_expected(), (L, S, E, Ev)
        b = _run(q, k, v, g, False, fused, is_causal=causal)
        for x, y, name in zip(a, b, ("out", "gq", "gk", "gv")):
            assert np.array_equal(x, y), (name, L, S, E, Ev, causal, fused)


def check_accuracy():
    # more than 64 queries (the general kernels then sum gk and gv per block), keys up to the
    # kernels' 256, rows of 1-7 keys and head sizes past a panel
    for i, (B, H, L, S, E, Ev, causal) in enumerate([
            (1, 2, 130, 130, 16, 16, True), (1, 1, 200, 256, 64, 64, True),
            (2, 1, 70, 150, 33, 17, False), (1, 2, 5, 7, 3, 70, True),
            (1, 1, 9, 3, 128, 100, False)]):
        q, k, v, g = _inputs(100 + i, B, H, L, S, E, Ev)
        before = ranvier._C._attention_small_runs()
        got = _run(q, k, v, g, True, is_causal=causal)
        assert _ran(before, 2) == _small_expected(), (L, S, E, Ev)
        want = np_sdpa_fwd_bwd(q, k, v, g, causal=causal)
        for x, y, name in zip(got, want, ("out", "gq", "gk", "gv")):
            np.testing.assert_allclose(x, y, rtol=2e-4, atol=2e-5, err_msg=f"{name} {L} {S}")


def check_threads():
    q, k, v, g = _inputs(7, 3, 5, 130, 130, 24, 24)  # 15 heads over 1-3 threads
    runs = [_run(q, k, v, g, True, threads=t, is_causal=True) for t in (1, 2, 3)]
    for other in runs[1:]:
        for x, y in zip(runs[0], other):
            assert np.array_equal(x, y)


def check_left_to_the_general_kernels():
    rng = np.random.default_rng(11)
    # a mask, more than 256 keys, float64, and no gradient kept (no backward then) run elsewhere
    q, k, v, g = _inputs(12, 1, 2, 20, 300, 16, 16)
    before = ranvier._C._attention_small_runs()
    got = _run(q, k, v, g, True)
    assert _ran(before, 0)
    for x, y in zip(got, np_sdpa_fwd_bwd(q, k, v, g)):
        np.testing.assert_allclose(x, y, rtol=2e-4, atol=2e-5)
    q, k, v, g = _inputs(13, 1, 2, 20, 30, 16, 16)
    mask = rng.standard_normal((20, 30))
    before = ranvier._C._attention_small_runs()
    got = _run(q, k, v, g, True, attn_mask=from_np(mask.astype(np.float32)))
    assert _ran(before, 0)
    for x, y in zip(got, np_sdpa_fwd_bwd(q, k, v, g, mask=mask)):
        np.testing.assert_allclose(x, y, rtol=2e-4, atol=2e-5)
    before = ranvier._C._attention_small_runs()
    Q, K, V = (from_np(a) for a in (q, k, v))  # float64
    out = F.scaled_dot_product_attention(Q, K, V, is_causal=True)
    assert _ran(before, 0)
    np.testing.assert_allclose(to_np(out), np_sdpa_fwd_bwd(q, k, v, g, causal=True)[0],
                               rtol=1e-10, atol=1e-12)
    # without a gradient the forward still runs here
    before = ranvier._C._attention_small_runs()
    with ranvier.no_grad():
        out = F.scaled_dot_product_attention(*(from_np(a.astype(np.float32)) for a in (q, k, v)))
    assert _ran(before, 1) == _small_expected()
    np.testing.assert_allclose(to_np(out), np_sdpa_fwd_bwd(q, k, v, g)[0], rtol=2e-4, atol=2e-5)


def check_rows_without_keys():
    # -inf scores (an infinite query against keys of both signs) leave query 5 with no key: NaN
    # out and zero gradients for its query, as the general kernels give. gk differs in one way:
    # the general kernels add dS[5, j] * q_5 = 0 * -inf = NaN to every key's gradient, these
    # only to the keys query 5 may see (causal: 0-5), so keys 6-11 stay finite
    q, k, v, g = _inputs(21, 1, 1, 12, 12, 8, 8)
    q[0, 0, 5] = 0.0
    q[0, 0, 5, 0] = -np.inf
    k[0, 0, :, 0] = np.abs(k[0, 0, :, 0]) + 0.5
    a = _run(q, k, v, g, True, is_causal=True)
    b = _run(q, k, v, g, False, is_causal=True)
    assert np.isnan(a[0][0, 0, 5]).all() and (a[1][0, 0, 5] == 0).all()
    for x, y in zip(a[:2] + a[3:], b[:2] + b[3:]):
        assert np.array_equal(x, y, equal_nan=True)
    assert np.array_equal(a[2][0, 0, :6], b[2][0, 0, :6], equal_nan=True)
    assert np.isnan(b[2][0, 0, 6:, 0]).all()
    if not _small_expected():  # (the general kernels ran both times)
        assert np.array_equal(a[2], b[2], equal_nan=True)
        return
    assert np.isfinite(a[2][0, 0, 6:]).all()
    # against the reference with query 5's (zero) share left out
    q5 = q.copy()
    q5[0, 0, 5] = 0.0
    want = np_sdpa_fwd_bwd(q5, k, v, g, causal=True)[2]
    np.testing.assert_allclose(a[2][0, 0, 6:], want[0, 0, 6:], rtol=2e-4, atol=2e-5)


def check_forward_and_backward_from_either_kernels():
    # the kept probabilities are whole rows whichever kernels wrote them, so a backward may run
    # on the other kernels than its forward (causal, several 64-query blocks of the general
    # kernels, whose later blocks see more keys than the first)
    q, k, v, g = _inputs(31, 1, 3, 150, 150, 16, 16)
    want = np_sdpa_fwd_bwd(q, k, v, g, causal=True)
    for fwd_small in (False, True):
        Q, K, V = (from_np(a.astype(np.float32), requires_grad=True) for a in (q, k, v))
        prev = ranvier._C._set_attention_small(fwd_small)
        try:
            out = F.scaled_dot_product_attention(Q, K, V, is_causal=True)
            ranvier._C._set_attention_small(not fwd_small)
            out.backward(from_np(g.astype(np.float32)))
        finally:
            ranvier._C._set_attention_small(prev)
        for x, y in zip([out, Q.grad, K.grad, V.grad], want):
            np.testing.assert_allclose(to_np(x), y, rtol=2e-4, atol=2e-5)


def run_checks():
    check_matches_general_bits()
    check_accuracy()
    check_threads()
    check_left_to_the_general_kernels()
    check_rows_without_keys()
    check_forward_and_backward_from_either_kernels()
    print(ranvier.backends.cpu.get_cpu_capability())


def test_matches_general_bits():
    check_matches_general_bits()


def test_accuracy():
    check_accuracy()


def test_threads():
    check_threads()


def test_left_to_the_general_kernels():
    check_left_to_the_general_kernels()


def test_rows_without_keys():
    check_rows_without_keys()


def test_forward_and_backward_from_either_kernels():
    check_forward_and_backward_from_either_kernels()


@pytest.mark.parametrize("level", ["avx2", "default"])
def test_capability_levels_in_subprocesses(level):
    run_checks_at_capability(level, "test_attention_small")
