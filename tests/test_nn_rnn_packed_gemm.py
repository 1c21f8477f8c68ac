"""The packed-panel GEMM under the fused recurrent layer's time loop (_C._rnn_packed_gemm,
kernels/cpu/gemm_packed.cpp) at every kernel level the CPU has (AVX-512, AVX2, portable)
against NumPy, with sizes off the 8/6/4 x 32 tiles, 1 and 0; each element independent of
the tile it falls in (bitwise); the fused layer bitwise identical for any thread count at
every level; errors naming the op."""
import numpy as np
import pytest

import ranvier
from ranvier import _C
from helpers import from_np, to_np

LEVELS = sorted({_C._rnn_gemm_isa(-1), 1, 0}) if _C._rnn_gemm_isa(-1) >= 1 else [0]
SIZES = [(1, 1, 1), (7, 5, 33), (9, 13, 31), (17, 3, 64), (13, 37, 70), (8, 256, 32),
         (6, 1, 16), (33, 64, 65), (0, 4, 5), (4, 0, 5), (3, 4, 0), (2, 9, 1)]


@pytest.fixture
def level(request):
    old = _C._rnn_gemm_isa(-1)
    used = _C._rnn_gemm_isa(request.param)
    yield used
    _C._rnn_gemm_isa(old)


@pytest.mark.parametrize("level", LEVELS, indirect=True)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("accumulate", [False, True])
def test_matches_numpy(level, dtype, accumulate):
    rng = np.random.default_rng(0)
    for M, K, N in SIZES:
        a = rng.standard_normal((M, K)).astype(dtype)
        b = rng.standard_normal((K, N)).astype(dtype)
        c = rng.standard_normal((M, N)).astype(dtype)
        out = _C._rnn_packed_gemm(from_np(a), from_np(b), from_np(c) if accumulate else None)
        want = a.astype(np.float64) @ b.astype(np.float64)
        if accumulate:
            want = want + c
        assert out.dtype == (ranvier.float32 if dtype == np.float32 else ranvier.float64)
        assert tuple(out.shape) == (M, N)
        tol = 1e-5 * max(K, 1) if dtype == np.float32 else 1e-12 * max(K, 1)
        np.testing.assert_allclose(to_np(out), want, rtol=tol, atol=tol)


@pytest.mark.parametrize("level", LEVELS, indirect=True)
def test_element_independent_of_tile(level):
    # a row computed alone, or a column block computed alone, is bitwise the same value as
    # inside the full product (what makes any split among threads give the same result)
    rng = np.random.default_rng(1)
    M, K, N = 19, 70, 77
    a = rng.standard_normal((M, K)).astype(np.float32)
    b = rng.standard_normal((K, N)).astype(np.float32)
    full = to_np(_C._rnn_packed_gemm(from_np(a), from_np(b)))
    for m in (0, 7, 8, 18):
        row = to_np(_C._rnn_packed_gemm(from_np(a[m:m + 1].copy()), from_np(b)))
        assert np.array_equal(row[0], full[m])
    cols = to_np(_C._rnn_packed_gemm(from_np(a), from_np(b[:, 32:45].copy())))
    assert np.array_equal(cols, full[:, 32:45])


def test_non_contiguous_inputs():
    rng = np.random.default_rng(2)
    a = rng.standard_normal((40, 9)).astype(np.float32)
    b = rng.standard_normal((35, 40)).astype(np.float32)
    out = _C._rnn_packed_gemm(from_np(a).t(), from_np(b).t())  # (9, 40) @ (40, 35)
    np.testing.assert_allclose(to_np(out), a.T.astype(np.float64) @ b.T, rtol=1e-4, atol=1e-4)


def test_errors():
    a = ranvier.zeros(3, 4)
    with pytest.raises(RuntimeError, match=r"_rnn_packed_gemm.*\[3, 4\].*\[5, 2\]"):
        _C._rnn_packed_gemm(a, ranvier.zeros(5, 2))
    with pytest.raises(RuntimeError, match=r"_rnn_packed_gemm.*\[3, 4\].*\[4\]"):
        _C._rnn_packed_gemm(a, ranvier.zeros(4))
    with pytest.raises(RuntimeError, match=r"_rnn_packed_gemm: expected c of shape \[3, 2\]"):
        _C._rnn_packed_gemm(a, ranvier.zeros(4, 2), ranvier.zeros(2, 3))
    with pytest.raises(TypeError, match=r"_rnn_packed_gemm.*float64"):
        _C._rnn_packed_gemm(a, ranvier.zeros(4, 2, dtype=ranvier.float64))
    with pytest.raises(TypeError, match=r"_rnn_packed_gemm.*int64"):
        _C._rnn_packed_gemm(ranvier.zeros(3, 4, dtype=ranvier.int64),
                            ranvier.zeros(4, 2, dtype=ranvier.int64))


def _layer_results(mode, H, reverse, lengths, B=11):
    rng = np.random.default_rng(3)
    G = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}[mode]
    T = 5
    arrs = [rng.standard_normal((T, B, G * H)), rng.standard_normal((B, H)) * 0.5,
            rng.standard_normal((B, H)) * 0.5, rng.standard_normal((G * H, H)) * 0.2,
            rng.standard_normal(G * H) * 0.1]
    xp, h0, c0, w, b = (from_np(v.astype(np.float32)).requires_grad_() for v in arrs)
    y, hn, cn = _C._rnn_layer(mode, xp, h0, c0 if mode == "LSTM" else None, w, b, reverse,
                              lengths)
    loss = (y * y).sum() + (hn * hn).sum()
    if cn is not None:
        loss = loss + (cn * cn).sum()
    loss.backward()
    outs = [y, hn] + ([cn, c0.grad] if cn is not None else [])
    return [to_np(t) for t in outs + [xp.grad, h0.grad, w.grad, b.grad]]


@pytest.mark.parametrize("level", LEVELS, indirect=True)
@pytest.mark.parametrize("mode", ["LSTM", "GRU", "RNN_TANH", "RNN_RELU"])
def test_layer_thread_count_invariance(level, mode):
    # H = 70: three unit blocks. B = 11: one row block (1 thread: split by rows; 2, 3 threads:
    # by hidden units); B = 20: two row blocks (1, 2 threads: rows; 3 threads: units)
    old = ranvier.get_num_threads()
    try:
        for reverse, lengths, B in [(False, None, 11),
                                    (True, [5, 0, 3, 1, 5, 2, 4, 5, 5, 1, 3], 11),
                                    (False, None, 20), (True, [5, 0, 3, 1] * 5, 20)]:
            results = []
            for nt in (1, 2, 3):
                ranvier.set_num_threads(nt)
                results.append(_layer_results(mode, 70, reverse, lengths, B))
            for other in results[1:]:
                for u, v in zip(results[0], other):
                    assert np.array_equal(u, v)
    finally:
        ranvier.set_num_threads(old)


@pytest.mark.parametrize("level", LEVELS, indirect=True)
def test_layer_matches_numpy_at_level(level):
    # the whole LSTM layer on this kernel level against a float64 NumPy time loop
    rng = np.random.default_rng(4)
    T, B, H = 4, 10, 37
    xp = rng.standard_normal((T, B, 4 * H)).astype(np.float32)
    h0 = (rng.standard_normal((B, H)) * 0.5).astype(np.float32)
    c0 = (rng.standard_normal((B, H)) * 0.5).astype(np.float32)
    w = (rng.standard_normal((4 * H, H)) * 0.2).astype(np.float32)
    y, hn, cn = _C._rnn_layer("LSTM", from_np(xp), from_np(h0), from_np(c0), from_np(w), None)
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    h, c = h0.astype(np.float64), c0.astype(np.float64)
    ys = []
    for t in range(T):
        g = xp[t] + h @ w.T.astype(np.float64)
        i, f, gg, o = sig(g[:, :H]), sig(g[:, H:2 * H]), np.tanh(g[:, 2 * H:3 * H]), \
            sig(g[:, 3 * H:])
        c = f * c + i * gg
        h = o * np.tanh(c)
        ys.append(h)
    np.testing.assert_allclose(to_np(y), np.stack(ys), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(to_np(hn), h, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(to_np(cn), c, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("level", LEVELS, indirect=True)
def test_recurrent_weight_gradient_matches_finite_differences(level):
    # dW_hh = dgates^T @ h_prev over all steps: 148 rows, more than one of the fixed row blocks
    # that keep it thread-invariant where the panel path declines (kernels/cpu/blas.h). The
    # float64 gradient against central differences, the float32 one against the float64.
    rng = np.random.default_rng(9)
    T, B, H = 4, 6, 37
    xp = rng.standard_normal((T, B, 4 * H))
    h0, c0 = rng.standard_normal((B, H)) * 0.5, rng.standard_normal((B, H)) * 0.5
    w = rng.standard_normal((4 * H, H)) * 0.2

    def loss(wv, dtype, grad=False):
        tw = from_np(wv.astype(dtype)).requires_grad_(grad)
        y, hn, cn = _C._rnn_layer("LSTM", from_np(xp.astype(dtype)), from_np(h0.astype(dtype)),
                                  from_np(c0.astype(dtype)), tw, None)
        out = (y * y).sum() + (cn * cn).sum()
        if not grad:
            return float(to_np(out))
        out.backward()
        return to_np(tw.grad)

    dw = loss(w, np.float64, grad=True)
    eps = 1e-6
    for r, c in [(0, 0), (5, 36), (127, 3), (128, 0), (140, 20), (147, 36)]:
        wp, wm = w.copy(), w.copy()
        wp[r, c] += eps
        wm[r, c] -= eps
        fd = (loss(wp, np.float64) - loss(wm, np.float64)) / (2 * eps)
        np.testing.assert_allclose(dw[r, c], fd, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(loss(w, np.float32, grad=True), dw, rtol=1e-3, atol=1e-4)
