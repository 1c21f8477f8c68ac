"""The packed-panel float32 GEMM (kernels/cpu/gemm_panels.cpp, Note [Panel GEMM]) that serves
float32 products on AVX-512 and AVX2 CPUs in place of OpenBLAS, at each kernel level the CPU
has (AVX-512 8 x 32 tiles, AVX2 6 x 16; _C._rnn_gemm_isa picks it): against NumPy in float64
and against the OpenBLAS path (_C._set_gemm_panels(False)), for edge tiles (rows not a
multiple of 8, columns not a multiple of 32 or 16, K not a multiple of 16 and over one K
block), every operand layout it
takes (A row-major or transposed, B row-major, transposed or strided), bias rows, addmm's C,
the cases it leaves to OpenBLAS (alpha, beta, strided bias, batches), Linear's gradients, and
results that do not depend on the thread count, and the same bits at every level. On CPUs
without AVX2 the same checks run on OpenBLAS."""
import numpy as np
import pytest

import ranvier as rv
from ranvier import _C
from ranvier.nn import functional as F


# the panel kernels' levels this CPU runs (2 AVX-512, 1 AVX2); [0] (OpenBLAS only) without
LEVELS = [lv for lv in (2, 1) if lv <= _C._rnn_gemm_isa(-1)] or [0]


@pytest.fixture(params=LEVELS)
def panels_on(request):
    prev = _C._set_gemm_panels(True)
    old = _C._rnn_gemm_isa(-1)
    assert _C._rnn_gemm_isa(request.param) == request.param
    yield request.param
    _C._rnn_gemm_isa(old)
    _C._set_gemm_panels(prev)


def _close(out, ref, k):
    """float32 products of K terms: errors grow with sqrt(K) times the size of the terms."""
    out = out.numpy() if hasattr(out, "numpy") else out
    scale = np.sqrt(k) * max(1.0, float(np.abs(ref).max()) / np.sqrt(k))
    np.testing.assert_allclose(out, ref, rtol=0, atol=2e-6 * scale * 4)


def _both_paths(fn):
    """fn() with the panel path, then with OpenBLAS."""
    _C._set_gemm_panels(True)
    on = fn().numpy()
    _C._set_gemm_panels(False)
    try:
        off = fn().numpy()
    finally:
        _C._set_gemm_panels(True)
    return on, off


SHAPES = [(16, 16, 16), (17, 33, 31), (40, 37, 70), (8, 300, 48), (129, 513, 96),
          (1024, 128, 384), (128, 784, 512), (64, 1030, 130), (300, 96, 10 + 16),
          # last panels of 1, 3 and 4 columns (the AVX2 narrow kernel)
          (50, 300, 33), (17, 40, 35), (23, 64, 100),
          # a classifier's small products (10 outputs): forward, dX and dW shapes
          (128, 256, 10), (128, 10, 256), (10, 128, 256), (8, 8, 8)]


@pytest.mark.parametrize("m,k,n", SHAPES)
def test_linear_with_bias_matches_numpy(panels_on, m, k, n):
    rng = np.random.default_rng(m * 7 + k)
    a = rng.standard_normal((m, k)).astype(np.float32)
    w = rng.standard_normal((n, k)).astype(np.float32)
    b = rng.standard_normal(n).astype(np.float32)
    ref = a.astype(np.float64) @ w.astype(np.float64).T + b
    with rv.no_grad():
        on, off = _both_paths(lambda: F.linear(rv.from_numpy(a), rv.from_numpy(w),
                                               rv.from_numpy(b)))
    _close(on, ref, k)
    _close(off, ref, k)


@pytest.mark.parametrize("m,k,n", SHAPES)
@pytest.mark.parametrize("layout", ["nn", "nt", "tn", "tt", "strided_b", "wide_a"])
def test_products_in_every_layout(panels_on, m, k, n, layout):
    rng = np.random.default_rng(m + k + n)
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    ref = a.astype(np.float64) @ b.astype(np.float64)
    ta, tb = rv.from_numpy(a), rv.from_numpy(b)
    if layout[0] == "t":
        ta = rv.from_numpy(a.T.copy()).t()  # A's columns contiguous
    if layout in ("nt", "tt"):
        tb = rv.from_numpy(b.T.copy()).t()  # B's columns contiguous (a weight in x @ W.T)
    if layout == "strided_b":
        tb = rv.from_numpy(np.repeat(b, 2, axis=1))[:, ::2]  # neither stride is 1
    if layout == "wide_a":
        tb = rv.from_numpy(b)
        ta = rv.from_numpy(np.concatenate([a, a[:, :5]], axis=1))[:, :k]  # row stride k + 5
    on, off = _both_paths(lambda: ta @ tb)
    _close(on, ref, k)
    _close(off, ref, k)
    assert on.shape == (m, n)


def test_addmm_with_full_c_and_the_cases_left_to_openblas(panels_on):
    rng = np.random.default_rng(3)
    a = rng.standard_normal((70, 90)).astype(np.float32)
    b = rng.standard_normal((90, 50)).astype(np.float32)
    c = rng.standard_normal((70, 50)).astype(np.float32)
    bias2 = rng.standard_normal(100).astype(np.float32)
    prod = a.astype(np.float64) @ b.astype(np.float64)
    ta, tb, tc = rv.from_numpy(a), rv.from_numpy(b), rv.from_numpy(c)
    _close(rv.addmm(tc, ta, tb), c + prod, 90)                           # beta 1, full C
    _close(rv.addmm(tc, ta, tb, beta=0.5, alpha=2.0), 0.5 * c + 2 * prod, 90)
    _close(rv.addmm(tc, ta, tb, beta=0), prod, 90)
    _close(rv.addmm(rv.from_numpy(bias2)[::2], ta, tb), bias2[::2] + prod, 90)  # strided bias
    batched = rv.from_numpy(np.stack([a, 2 * a])) @ tb
    _close(batched[1], 2 * prod, 90)


def test_linear_gradients(panels_on):
    """dX = dY @ W (row-major B) and dW = dY^T @ X (transposed A) through the panel path."""
    rng = np.random.default_rng(11)
    x = rng.standard_normal((200, 72)).astype(np.float32)
    w = rng.standard_normal((40, 72)).astype(np.float32)
    b = rng.standard_normal(40).astype(np.float32)
    g = rng.standard_normal((200, 40)).astype(np.float32)
    tx = rv.from_numpy(x).requires_grad_()
    tw = rv.from_numpy(w).requires_grad_()
    tb = rv.from_numpy(b).requires_grad_()
    F.linear(tx, tw, tb).backward(rv.from_numpy(g))
    g64 = g.astype(np.float64)
    _close(tx.grad, g64 @ w.astype(np.float64), 40)
    _close(tw.grad, g64.T @ x.astype(np.float64), 200)
    _close(tb.grad, g64.sum(0), 200)


def test_results_do_not_depend_on_thread_count(panels_on):
    rng = np.random.default_rng(5)
    a = rv.from_numpy(rng.standard_normal((333, 600)).astype(np.float32))
    w = rv.from_numpy(rng.standard_normal((150, 600)).astype(np.float32))
    b = rv.from_numpy(rng.standard_normal(150).astype(np.float32))
    a_long = rv.from_numpy(rng.standard_normal((600, 333)).astype(np.float32))
    prev = rv.get_num_threads()
    out = {}
    try:
        for t in (1, 2, 3):
            rv.set_num_threads(t)
            with rv.no_grad():
                out[t] = (F.linear(a, w, b).numpy(), (a.t() @ a[:, :150]).numpy(),
                          # K = 600 rows: OpenBLAS's product on AVX2 (see below)
                          (a_long.t() @ a_long[:, :150]).numpy())
    finally:
        rv.set_num_threads(prev)
    for t in (2, 3):
        for x, y in zip(out[1], out[t]):
            np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("n", [33, 34, 67, 100, 130])
@pytest.mark.parametrize("m,k", [(64, 32), (17, 40), (61, 500), (130, 98)])
@pytest.mark.parametrize("form", ["linear", "nn", "tn", "addmm"])
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_a_column_has_the_same_bits_in_a_narrow_last_panel(panels_on, m, k, n, form, threads):
    # Each element is one FMA chain over k per K block whatever tile it falls in (Note [Panel
    # GEMM]): the last n % 32 columns (a narrow panel, vectors down the rows on AVX2) must give
    # the bits they give when moved to the front, into a full panel.
    rng = np.random.default_rng(m * n + k)
    r = n % 32
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    bias = rng.standard_normal(n).astype(np.float32)
    c = rng.standard_normal((m, n)).astype(np.float32)
    perm = np.r_[n - r:n, 0:n - r]  # the last r columns first

    def product(cols):
        ta = rv.from_numpy(a)
        if form == "tn":
            ta = rv.from_numpy(a.T.copy()).t()
        with rv.no_grad():
            if form == "linear":
                return F.linear(ta, rv.from_numpy(b[:, cols].T.copy()),
                                rv.from_numpy(bias[cols].copy())).numpy()
            if form == "addmm":
                return rv.addmm(rv.from_numpy(c[:, cols].copy()), ta,
                                rv.from_numpy(b[:, cols].copy())).numpy()
            return (ta @ rv.from_numpy(b[:, cols].copy())).numpy()

    prev = rv.get_num_threads()
    rv.set_num_threads(threads)
    try:
        plain, moved = product(np.arange(n)), product(perm)
    finally:
        rv.set_num_threads(prev)
    np.testing.assert_array_equal(plain[:, n - r:], moved[:, :r])
    ref = a.astype(np.float64) @ b.astype(np.float64)
    ref = ref + (bias if form == "linear" else c if form == "addmm" else 0)
    _close(plain, ref, k)


@pytest.mark.parametrize("m", [20, 32, 50, 62])
@pytest.mark.parametrize("form", ["nn", "tn", "linear"])
def test_a_row_has_the_same_bits_in_the_last_tiles(panels_on, m, form):
    # m % 6 == 2: on AVX2 the last eight rows run as two 4-row tiles; moved to the front they
    # fall in 6-row tiles and must give the same bits
    rng = np.random.default_rng(m)
    a = rng.standard_normal((m, 70)).astype(np.float32)
    b = rng.standard_normal((70, 40)).astype(np.float32)
    bias = rng.standard_normal(40).astype(np.float32)
    perm = np.r_[m - 8:m, 0:m - 8]

    def product(rows):
        x = a[rows].copy()
        ta = rv.from_numpy(x.T.copy()).t() if form == "tn" else rv.from_numpy(x)
        with rv.no_grad():
            if form == "linear":
                return F.linear(ta, rv.from_numpy(b.T.copy()), rv.from_numpy(bias)).numpy()
            return (ta @ rv.from_numpy(b)).numpy()

    plain, moved = product(np.arange(m)), product(perm)
    np.testing.assert_array_equal(plain[m - 8:], moved[:8])
    ref = a.astype(np.float64) @ b.astype(np.float64) + (bias if form == "linear" else 0)
    _close(plain, ref, 70)


@pytest.mark.skipif(len(LEVELS) < 2, reason="one panel kernel level on this CPU")
def test_levels_give_the_same_bits():
    # each element is one FMA chain over k per K block at either level (Note [Panel GEMM])
    rng = np.random.default_rng(8)
    a = rv.from_numpy(rng.standard_normal((45, 600)).astype(np.float32))
    w = rv.from_numpy(rng.standard_normal((77, 600)).astype(np.float32))
    b = rv.from_numpy(rng.standard_normal(77).astype(np.float32))
    old = _C._rnn_gemm_isa(-1)
    out = {}
    try:
        for lv in LEVELS:
            _C._rnn_gemm_isa(lv)
            with rv.no_grad():
                out[lv] = (F.linear(a, w, b).numpy(), (a.t() @ a[:, :70]).numpy(),
                           (a @ w.t()[:, 5:]).numpy())
    finally:
        _C._rnn_gemm_isa(old)
    for x, y in zip(out[LEVELS[0]], out[LEVELS[1]]):
        np.testing.assert_array_equal(x, y)


def test_switch_returns_the_previous_setting():
    prev = _C._set_gemm_panels(False)
    try:
        assert _C._set_gemm_panels(False) is False
        assert _C._set_gemm_panels(True) is False
        assert _C._set_gemm_panels(True) is True
    finally:
        _C._set_gemm_panels(prev)


@pytest.mark.parametrize("k", [511, 512, 1024])
def test_a_long_transposed_a_goes_to_openblas_on_avx2(panels_on, k):
    # A weight gradient dY^T X over k >= 512 rows runs faster in OpenBLAS than on the AVX2
    # tiles (kBlasTransAK in gemm_panels.cpp); below that, and at every k on AVX-512, it is the
    # panel path's, whose elements are one FMA chain over k whether A is read transposed or not.
    rng = np.random.default_rng(k)
    dy = rng.standard_normal((k, 96)).astype(np.float32)
    x = rng.standard_normal((k, 130)).astype(np.float32)
    ta = rv.from_numpy(dy.T.copy())  # A row-major: the panel path
    tt = rv.from_numpy(dy).t()       # A transposed
    tx = rv.from_numpy(x)
    with rv.no_grad():
        transposed, blas = _both_paths(lambda: tt @ tx)
        row_major = (ta @ tx).numpy()
    _close(transposed, dy.T.astype(np.float64) @ x.astype(np.float64), k)
    if panels_on == 1 and k >= 512:
        np.testing.assert_array_equal(transposed, blas)
    else:
        np.testing.assert_array_equal(transposed, row_major)
