"""The 3x3 convolution kernels at each CPU capability (Note [CPU capability]): the Winograd
transforms, the one-input-channel direct kernels and the fused conv -> relu -> 2x2 max pool
have AVX2 + FMA versions next to the AVX-512 ones. Checked here: conv2d's forward and gradients
and the fused Sequential(Conv2d, ReLU, MaxPool2d(2)) against float64 NumPy references (explicit
loops over the nine taps), the fused run against the three ops bit for bit, thread-count
independence, and -- in subprocesses under RANVIER_CPU_CAPABILITY=avx2 and =default, so that an
AVX-512 machine runs the AVX2 code too -- both levels against the references, the AVX2
Winograd transforms against the portable ones bit for bit, and widths 1 to 20."""
import json
import textwrap

import numpy as np
import pytest

import ranvier as rv
from ranvier import _C
from helpers import from_np, run_at_capability

F = rv.nn.functional
LEVELS = ["DEFAULT", "AVX2", "AVX512"]


def _supports(level):
    return LEVELS.index(_C._cpu_capability_supported()) >= LEVELS.index(level)


# ----------------------------------------------------------------------------- references


def ref_conv(x, w, b, pad):
    """float64 cross-correlation with zero padding, stride 1, 3x3."""
    x, w = x.astype(np.float64), w.astype(np.float64)
    n, ci, h, wd = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = h + 2 * pad - 2, wd + 2 * pad - 2
    y = np.zeros((n, w.shape[0], oh, ow))
    for a in range(3):
        for c in range(3):
            y += np.einsum("oi,nihw->nohw", w[:, :, a, c], xp[:, :, a:a + oh, c:c + ow])
    if b is not None:
        y += b.astype(np.float64)[None, :, None, None]
    return y


def ref_conv_grads(x, w, pad, gy):
    """float64 input, weight and bias gradients of ref_conv for the output gradient gy."""
    x, w, gy = x.astype(np.float64), w.astype(np.float64), gy.astype(np.float64)
    h, wd = x.shape[2:]
    oh, ow = gy.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dxp = np.zeros_like(xp)
    dw = np.zeros(w.shape)
    for a in range(3):
        for c in range(3):
            dw[:, :, a, c] = np.einsum("nohw,nihw->oi", gy, xp[:, :, a:a + oh, c:c + ow])
            dxp[:, :, a:a + oh, c:c + ow] += np.einsum("nohw,oi->nihw", gy, w[:, :, a, c])
    return dxp[:, :, pad:pad + h, pad:pad + wd], dw, gy.sum((0, 2, 3))


def ref_relu_pool(conv, gpool):
    """max_pool2d(relu(conv), 2) in float64, and the conv output's gradient for the pooled
    gradient gpool (to the window's first maximum, when it is positive). Also returns the
    windows whose outcome float32 rounding could change (two taps, or the maximum and 0, within
    1e-4 of the window's scale): tests give them a zero gradient."""
    n, c, oh, ow = conv.shape
    win = np.maximum(conv, 0).reshape(n, c, oh // 2, 2, ow // 2, 2).transpose(0, 1, 2, 4, 3, 5)
    win = win.reshape(n, c, oh // 2, ow // 2, 4)
    pooled, tap = win.max(-1), win.argmax(-1)
    raw = conv.reshape(n, c, oh // 2, 2, ow // 2, 2).transpose(0, 1, 2, 4, 3, 5)
    raw = np.sort(raw.reshape(n, c, oh // 2, ow // 2, 4), -1)
    scale = 1e-4 * (1 + np.abs(raw).max(-1))
    ambiguous = ((raw[..., 3] - raw[..., 2] < scale) | (np.abs(raw[..., 3]) < scale))
    dconv = np.zeros_like(conv)
    ni, ci, pi, pj = np.indices(pooled.shape)
    live = pooled > 0
    dconv[ni, ci, 2 * pi + tap // 2, 2 * pj + tap % 2] = np.where(live, gpool, 0)
    return pooled, dconv, ambiguous


def operands(seed, n, ci, h, w, co):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, ci, h, w)).astype(np.float32)
    wt = (rng.standard_normal((co, ci, 3, 3)) / np.sqrt(9 * ci)).astype(np.float32)
    b = (0.1 * rng.standard_normal(co)).astype(np.float32)
    return x, wt, b


def close(got, want, tol):
    """Elementwise within tol relative to the reference's scale."""
    got = np.asarray(got, np.float64)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * max(1.0, np.abs(want).max()))


def bits(t):
    return t.detach().numpy().view(np.uint32)


# Shapes: one input channel (the direct kernels), >= 16 channels each side (Winograd), and
# channel counts between (im2col + GEMM, for comparison). n, ci, h, w, co, pad.
CONV_CASES = [
    (3, 1, 28, 28, 8, 1), (2, 1, 7, 9, 5, 1), (5, 1, 6, 17, 3, 0), (1, 1, 3, 3, 4, 0),
    (2, 1, 1, 1, 3, 1), (9, 1, 11, 8, 2, 1), (2, 1, 4, 23, 3, 2),
    (4, 32, 14, 14, 64, 1), (3, 16, 7, 7, 16, 1), (2, 16, 9, 13, 17, 0), (1, 17, 5, 20, 16, 1),
    (2, 16, 3, 3, 16, 1), (17, 16, 6, 6, 16, 1), (2, 16, 8, 35, 16, 2), (2, 3, 9, 11, 4, 1),
]


# ----------------------------------------------------------------------------- in process


@pytest.mark.parametrize("n,ci,h,w,co,pad", CONV_CASES)
def test_conv2d_forward_and_gradients_match_numpy(n, ci, h, w, co, pad):
    x, wt, b = operands(n * 100 + h * 10 + w + ci, n, ci, h, w, co)
    tx, tw, tb = (from_np(a, requires_grad=True) for a in (x, wt, b))
    y = F.conv2d(tx, tw, tb, 1, pad)
    want = ref_conv(x, wt, b, pad)
    close(y.detach().numpy(), want, 1e-5)
    gy = np.random.default_rng(7).standard_normal(want.shape).astype(np.float32)
    y.backward(from_np(gy))
    dx, dw, db = ref_conv_grads(x, wt, pad, gy)
    close(tx.grad.numpy(), dx, 1e-5)
    close(tw.grad.numpy(), dw, 1e-5)
    close(tb.grad.numpy(), db, 1e-5)


def _fused_run(x, wt, b, pad, fuse, gpool=None, input_grad=True, threads=None):
    """Sequential(Conv2d, ReLU, MaxPool2d(2)) on x: the pooled output, the grad_fn's name and
    (for a pooled gradient) the input, weight and bias gradients."""
    old_fuse, old_threads = rv.backends.cpu.fuse_patterns, rv.get_num_threads()
    rv.backends.cpu.fuse_patterns = fuse
    if threads:
        rv.set_num_threads(threads)
    try:
        co, ci = wt.shape[:2]
        m = rv.nn.Sequential(rv.nn.Conv2d(ci, co, 3, padding=pad), rv.nn.ReLU(),
                             rv.nn.MaxPool2d(2))
        with rv.no_grad():
            m[0].weight.copy_(from_np(wt))
            m[0].bias.copy_(from_np(b))
        tx = from_np(x, requires_grad=input_grad)
        out = m(tx)
        name = out.grad_fn.name()
        if gpool is None:
            return out, name, None
        out.backward(from_np(gpool))
        grads = (tx.grad if input_grad else None, m[0].weight.grad, m[0].bias.grad)
        return out, name, grads
    finally:
        rv.backends.cpu.fuse_patterns = old_fuse
        rv.set_num_threads(old_threads)


def _fused_available():
    return _C._conv2d_relu_max_pool2d(rv.zeros(1, 1, 4, 4), rv.zeros(2, 1, 3, 3), None,
                                      (1, 1)) is not None


needs_fused = pytest.mark.skipif(not _fused_available(),
                                 reason="no fused conv -> relu -> pool kernels at this capability")

# Even conv outputs (the fused op's condition). n, ci, h, w, co, pad.
FUSED_CASES = [
    (64, 1, 28, 28, 32, 1), (3, 1, 10, 18, 5, 1), (9, 1, 6, 6, 4, 2), (2, 1, 2, 2, 3, 1),
    (17, 1, 16, 14, 3, 1), (8, 1, 20, 46, 2, 0), (1, 1, 4, 12, 2, 0),
    (16, 32, 14, 14, 64, 1), (5, 16, 10, 34, 20, 1), (17, 17, 6, 8, 16, 0),
    (9, 16, 12, 36, 16, 2), (2, 16, 2, 2, 16, 1), (1, 16, 4, 18, 16, 1),
]


@needs_fused
@pytest.mark.parametrize("n,ci,h,w,co,pad", FUSED_CASES)
def test_fused_sequential_matches_unfused_bits_and_numpy(n, ci, h, w, co, pad):
    x, wt, b = operands(n * 1000 + h * 10 + w + ci, n, ci, h, w, co)
    conv = ref_conv(x, wt, b, pad)
    g = np.random.default_rng(3).standard_normal(
        (n, co, conv.shape[2] // 2, conv.shape[3] // 2)).astype(np.float32)
    pooled, dconv, ambiguous = ref_relu_pool(conv, g)
    g[ambiguous] = 0  # windows whose winner float32 rounding may change
    _, dconv, _ = ref_relu_pool(conv, g)
    out, name, (dx, dw, db) = _fused_run(x, wt, b, pad, True, g)
    assert name == "ConvReluMaxPoolBackward0"
    out2, name2, (dx2, dw2, db2) = _fused_run(x, wt, b, pad, False, g)
    assert name2 != "ConvReluMaxPoolBackward0"
    for a, c in ((out, out2), (dx, dx2), (dw, dw2), (db, db2)):
        np.testing.assert_array_equal(bits(a), bits(c))
    close(out.detach().numpy(), pooled, 1e-5)
    rdx, rdw, rdb = ref_conv_grads(x, wt, pad, dconv)
    close(dx.numpy(), rdx, 1e-5)
    close(dw.numpy(), rdw, 1e-5)
    close(db.numpy(), rdb, 1e-5)


@needs_fused
@pytest.mark.parametrize("ci,co", [(1, 6), (16, 16)])
def test_fused_ties_zeros_and_special_values_match_unfused(ci, co):
    # identity filter on channel 0: ties inside windows, all-negative windows, NaN and
    # infinities reach the pool unchanged; the pooled gradient holds an inf and a NaN
    rng = np.random.default_rng(11)
    x = rng.standard_normal((3, ci, 10, 12)).astype(np.float32)
    x[0, 0, :4, :4] = 2.0
    x[0, 0, 4, 4] = x[0, 0, 5, 5] = 3.0
    x[1, 0, 4:6, 6:8] = -1.0
    x[1, 0, 6:8, 6:8] = -0.0
    x[2, 0, 2, 3] = np.nan
    x[2, 0, 5, 0] = np.inf
    x[2, 0, 7, 11] = -np.inf
    wt = rng.standard_normal((co, ci, 3, 3)).astype(np.float32)
    wt[0] = 0
    wt[0, 0, 1, 1] = 1
    b = rng.standard_normal(co).astype(np.float32)
    b[0] = 0
    g = rng.standard_normal((3, co, 5, 6)).astype(np.float32)
    g[0, 0, 1, 1] = np.inf
    g[2, 0, 0, 2] = np.nan
    out, name, grads = _fused_run(x, wt, b, 1, True, g)
    assert name == "ConvReluMaxPoolBackward0"
    out2, _, grads2 = _fused_run(x, wt, b, 1, False, g)
    np.testing.assert_array_equal(bits(out), bits(out2))
    for a, c in zip(grads, grads2):
        np.testing.assert_array_equal(bits(a), bits(c))
    # samples 0 and 1 hold no specials: their identity channel pools relu(x)
    want = np.maximum(x[:2, 0], 0).reshape(2, 5, 2, 6, 2).max((2, 4))
    close(out.detach().numpy()[:2, 0], want.astype(np.float64), 1e-6)


@pytest.mark.parametrize("fuse", [True, False])
@pytest.mark.parametrize("ci,co", [(1, 8), (16, 32)])
def test_same_bits_for_any_thread_count(fuse, ci, co):
    x, wt, b = operands(5, 19, ci, 12, 14, co)
    g = np.random.default_rng(4).standard_normal((19, co, 6, 7)).astype(np.float32)
    runs = [_fused_run(x, wt, b, 1, fuse, g, threads=t) for t in (1, 2, 3)]
    out0, _, grads0 = runs[0]
    for out, _, grads in runs[1:]:
        np.testing.assert_array_equal(bits(out), bits(out0))
        for a, c in zip(grads, grads0):
            np.testing.assert_array_equal(bits(a), bits(c))


def test_conv2d_matches_torch():
    torch = pytest.importorskip("torch")
    for n, ci, h, w, co, pad in [(8, 1, 28, 28, 16, 1), (4, 32, 14, 14, 64, 1)]:
        x, wt, b = operands(n + ci, n, ci, h, w, co)
        m = rv.nn.Sequential(rv.nn.Conv2d(ci, co, 3, padding=pad), rv.nn.ReLU(),
                             rv.nn.MaxPool2d(2))
        tm = torch.nn.Sequential(torch.nn.Conv2d(ci, co, 3, padding=pad), torch.nn.ReLU(),
                                 torch.nn.MaxPool2d(2))
        with rv.no_grad():
            m[0].weight.copy_(from_np(wt))
            m[0].bias.copy_(from_np(b))
        with torch.no_grad():
            tm[0].weight.copy_(torch.from_numpy(wt))
            tm[0].bias.copy_(torch.from_numpy(b))
        out = m(from_np(x))
        tout = tm(torch.from_numpy(x))
        close(out.detach().numpy(), tout.detach().numpy().astype(np.float64), 1e-5)
        out.sum().backward()
        tout.sum().backward()
        close(m[0].weight.grad.numpy(), tm[0].weight.grad.numpy().astype(np.float64), 1e-4)
        close(m[0].bias.grad.numpy(), tm[0].bias.grad.numpy().astype(np.float64), 1e-4)


# ----------------------------------------------------------------------------- per capability

# Run in a subprocess at a given capability: for each case k (operands in k.npz under the
# directory argv[1]), conv2d's output and gradients and the Sequential's (fused where the
# capability has the kernels, and unfused), saved as k_<name>.npy there; a JSON summary
# (capability, grad_fn names) on stdout.
SCRIPT = textwrap.dedent("""
    import json, os, sys
    import numpy as np
    import ranvier as rv
    from ranvier import _C
    _C._set_gemm_panels(False)  # the same GEMM (OpenBLAS) at every capability
    d = sys.argv[1]
    summary = {"capability": rv.backends.cpu.get_cpu_capability(), "names": []}
    def t(a, grad=True):
        x = rv.from_numpy(np.array(a)).clone()
        return x.requires_grad_(True) if grad else x
    k = 0
    while os.path.exists(f"{d}/{k}.npz"):
        z = np.load(f"{d}/{k}.npz")
        x, wt, b, pad = z["x"], z["w"], z["b"], int(z["pad"])
        tx, tw, tb = t(x), t(wt), t(b)
        y = rv.nn.functional.conv2d(tx, tw, tb, 1, pad)
        y.backward(t(z["gy"], False))
        res = {"y": y, "dx": tx.grad, "dw": tw.grad, "db": tb.grad}
        names = []
        if "gp" in z:
            for fuse in (True, False):
                rv.backends.cpu.fuse_patterns = fuse
                ci, co = wt.shape[1], wt.shape[0]
                m = rv.nn.Sequential(rv.nn.Conv2d(ci, co, 3, padding=pad), rv.nn.ReLU(),
                                     rv.nn.MaxPool2d(2))
                with rv.no_grad():
                    m[0].weight.copy_(t(wt, False))
                    m[0].bias.copy_(t(b, False))
                tx = t(x)
                p = m(tx)
                names.append(p.grad_fn.name())
                p.backward(t(z["gp"], False))
                tag = "f" if fuse else "u"
                res.update({tag + "p": p, tag + "dx": tx.grad, tag + "dw": m[0].weight.grad,
                            tag + "db": m[0].bias.grad})
        summary["names"].append(names)
        for key, v in res.items():
            np.save(f"{d}/{k}_{key}.npy", v.detach().numpy())
        k += 1
    print(json.dumps(summary))
""")

# Widths 1 to 20 for the one-channel kernels (padding 1; and 0 where the output exists) and
# for Winograd (16 -> 16 channels, padding 1), plus tiny and odd shapes. seed, n, ci, h, w, co,
# pad.
SUB_CASES = (
    [(100 + w, 2, 1, 5, w, 3, 1) for w in range(1, 21)]
    + [(200 + w, 2, 1, 4, w, 2, 0) for w in range(3, 21)]
    + [(300 + w, 2, 16, 4, w, 16, 1) for w in range(2, 21)]
    + [(400, 1, 1, 1, 1, 2, 1), (401, 1, 16, 4, 4, 16, 0), (402, 1, 16, 3, 5, 16, 2),
       (403, 9, 1, 28, 28, 16, 1), (404, 9, 32, 14, 14, 64, 1), (405, 3, 16, 7, 9, 16, 0),
       (406, 2, 20, 13, 21, 24, 2), (407, 1, 1, 2, 2, 2, 1), (408, 1, 16, 2, 2, 16, 1)]
)


class Case:
    """One SUB_CASES entry: operands, gradients fed in, and the float64 references."""

    def __init__(self, seed, n, ci, h, w, co, pad):
        self.shape = (seed, n, ci, h, w, co, pad)
        self.ci, self.co, self.pad = ci, co, pad
        self.x, self.w, self.b = operands(seed, n, ci, h, w, co)
        self.y = ref_conv(self.x, self.w, self.b, pad)
        rng = np.random.default_rng(seed + 1)
        self.gy = rng.standard_normal(self.y.shape).astype(np.float32)
        self.grads = ref_conv_grads(self.x, self.w, pad, self.gy)
        oh, ow = self.y.shape[2:]
        self.pooled = oh % 2 == 0 and ow % 2 == 0
        if self.pooled:
            self.gp = rng.standard_normal((n, co, oh // 2, ow // 2)).astype(np.float32)
            self.pool_ref, _, ambiguous = ref_relu_pool(self.y, self.gp)
            self.gp[ambiguous] = 0  # windows whose winner float32 rounding may change
            _, dconv, _ = ref_relu_pool(self.y, self.gp)
            self.pool_grads = ref_conv_grads(self.x, self.w, pad, dconv)

    def winograd(self):
        oh, ow = self.y.shape[2:]
        return self.ci >= 16 and self.co >= 16 and oh >= 2 and ow >= 2


def _run_at(level, cases, tmp_path):
    d = tmp_path / level
    d.mkdir()
    for k, c in enumerate(cases):
        extra = {"gp": c.gp} if c.pooled else {}
        np.savez(d / f"{k}.npz", x=c.x, w=c.w, b=c.b, pad=c.pad, gy=c.gy, **extra)
    summary = json.loads(run_at_capability(level, SCRIPT, str(d))[-1])
    assert len(summary["names"]) == len(cases)
    return summary, lambda k, key: np.load(d / f"{k}_{key}.npy")


def _same_bits(a, b):
    return a.shape == b.shape and np.array_equal(a.view(np.uint32), b.view(np.uint32))


def _check_against_references(cases, load, names, fused_kernels):
    for k, c in enumerate(cases):
        close(load(k, "y"), c.y, 1e-5)
        for key, ref in zip(("dx", "dw", "db"), c.grads):
            close(load(k, key), ref, 1e-5)
        if not c.pooled:
            assert names[k] == []
            continue
        assert (names[k][0] == "ConvReluMaxPoolBackward0") == fused_kernels, (c.shape, names[k])
        assert names[k][1] != "ConvReluMaxPoolBackward0"
        for key in ("p", "dx", "dw", "db"):  # fused and unfused: the same bits
            assert _same_bits(load(k, "f" + key), load(k, "u" + key)), (c.shape, key)
        close(load(k, "fp"), c.pool_ref, 1e-5)
        for key, ref in zip(("fdx", "fdw", "fdb"), c.pool_grads):
            close(load(k, key), ref, 1e-5)


@pytest.mark.skipif(not _supports("AVX2"), reason="this CPU lacks AVX2 + FMA")
def test_avx2_and_default_levels_match_references_and_each_other(tmp_path):
    cases = [Case(*s) for s in SUB_CASES]
    s2, load2 = _run_at("avx2", cases, tmp_path)
    s0, load0 = _run_at("default", cases, tmp_path)
    assert s2["capability"] == "AVX2" and s0["capability"] == "DEFAULT"
    # AVX2 has fused kernels for one input channel and for the Winograd shapes; default none
    _check_against_references(cases, load2, s2["names"], True)
    _check_against_references(cases, load0, s0["names"], False)
    # The Winograd shapes run the same GEMMs at both levels: the AVX2 transforms must give the
    # portable ones' bits, forward and backward, and the fused AVX2 run the unfused portable one.
    checked = 0
    for k, c in enumerate(cases):
        if not c.winograd():
            continue
        for key in ("y", "dx", "dw", "db"):
            assert _same_bits(load2(k, key), load0(k, key)), (c.shape, key)
        if c.pooled:
            for key in ("p", "dx", "dw", "db"):
                assert _same_bits(load2(k, "f" + key), load0(k, "u" + key)), (c.shape, key)
        checked += 1
    assert checked >= 20
