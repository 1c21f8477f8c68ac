"""nn.functional.interpolate (nearest, nearest-exact, linear/bilinear/trilinear, bicubic, area),
its aliases and modules, pixel_shuffle / pixel_unshuffle / channel_shuffle: forward against
direct NumPy loop implementations of the coordinate rules, float64 gradchecks, thread-count
invariance of the backward, errors, and PyTorch (when installed)."""
import itertools
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import ranvier
import ranvier.nn as nn
import ranvier.nn.functional as F
from helpers import assert_close, from_np, gradcheck, gradgradcheck, noncontiguous, rand_np, to_np


# -- NumPy reference ----------------------------------------------------------------------------
def _taps(mode, n, m, align, scale, nsp):
    """[(indices, weights)] for each output index j along one dim (the coordinate rules)."""
    out = []
    if mode.endswith("-aa"):
        s = ((n - 1) / (m - 1) if m > 1 else 0.0) if align else (1.0 / scale if scale else n / m)
        sup = (2.0 if mode == "cubic-aa" else 1.0) * max(s, 1.0)
        for j in range(m):
            c = s * (j + 0.5)
            lo = max(int(c - sup + 0.5), 0)
            hi = min(int(c + sup + 0.5), n)
            ws = []
            for i in range(lo, hi):
                x = abs((i - c + 0.5) / max(s, 1.0))
                if mode == "linear-aa":
                    ws.append(max(0.0, 1 - x))
                else:
                    a = -0.5
                    ws.append(((a + 2) * x - (a + 3)) * x * x + 1 if x < 1 else
                              (((a * x - 5 * a) * x + 8 * a) * x - 4 * a if x < 2 else 0.0))
            tot = sum(ws)
            out.append((list(range(lo, hi)), [w / tot for w in ws]))
        return out
    for j in range(m):
        if mode == "linear" and m == n:
            out.append(([j], [1.0]))
            continue
        if mode in ("nearest", "nearest-exact"):
            s = np.float32(1.0 / scale) if scale else np.float32(n) / np.float32(m)
            f32 = np.float32
            if mode == "nearest" and nsp == 2 and m in (n, 2 * n):
                i = j if m == n else j // 2
            elif mode == "nearest":
                i = int(np.floor(s * f32(j)))
            else:
                src = s * (f32(j) + f32(0.5)) - f32(0.5)
                i = int(np.floor(max(src, f32(0)) + f32(0.5)))
            out.append(([min(i, n - 1)], [1.0]))
            continue
        if align:
            s = (n - 1) / (m - 1) if m > 1 else 0.0
            src = s * j
        else:
            s = 1.0 / scale if scale else n / m
            src = s * (j + 0.5) - 0.5
            if mode == "linear" and src < 0:
                src = 0.0
        i0 = min(int(math.floor(src)), n - 1)
        t = min(max(src - i0, 0.0), 1.0)
        if mode == "linear":
            out.append(([i0, min(i0 + 1, n - 1)], [1 - t, t]))
        else:
            a = -0.75

            def near(x):
                return ((a + 2) * x - (a + 3)) * x * x + 1

            def far(x):
                return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
            w = [far(t + 1), near(t), near(1 - t), far(2 - t)]
            out.append(([min(max(i0 - 1 + q, 0), n - 1) for q in range(4)], w))
    return out


def ref_interp(x, size, mode, align=False, scales=None):
    """Direct loop: every output pixel is the weighted sum over the product of its taps."""
    x = np.asarray(x, dtype=np.float64)
    sp = x.shape[2:]
    scales = scales or [None] * len(sp)
    taps = [_taps(mode, n, m, align, s, len(sp)) for n, m, s in zip(sp, size, scales)]
    y = np.zeros(x.shape[:2] + tuple(size))
    for o in itertools.product(*[range(m) for m in size]):
        acc = np.zeros(x.shape[:2])
        per_dim = [list(zip(*taps[d][o[d]])) for d in range(len(sp))]
        for combo in itertools.product(*per_dim):
            w = np.prod([c[1] for c in combo])
            acc = acc + w * x[(slice(None), slice(None)) + tuple(c[0] for c in combo)]
        y[(slice(None), slice(None)) + o] = acc
    return y


def ref_area(x, size):
    x = np.asarray(x, dtype=np.float64)
    sp = x.shape[2:]
    y = np.zeros(x.shape[:2] + tuple(size))
    for o in itertools.product(*[range(m) for m in size]):
        sl = tuple(slice((o[d] * sp[d]) // size[d], -((-(o[d] + 1) * sp[d]) // size[d]))
                   for d in range(len(sp)))
        y[(slice(None), slice(None)) + o] = x[(slice(None), slice(None)) + sl].mean(
            axis=tuple(range(2, 2 + len(sp))))
    return y


LINEAR_FOR = {1: "linear", 2: "bilinear", 3: "trilinear"}


def _cases():
    cases = []
    for nd in (1, 2, 3):
        modes = ("nearest", "nearest-exact", LINEAR_FOR[nd]) + (("bicubic",) if nd == 2 else ())
        for mode in modes:
            aligns = [None] if mode.startswith("nearest") else [False, True]
            for align in aligns:
                cases.append((nd, mode, align))
    return cases


def _ref_mode(mode):
    return {"bilinear": "linear", "trilinear": "linear", "bicubic": "cubic"}.get(mode, mode)


# -- forward ------------------------------------------------------------------------------------
@pytest.mark.parametrize("nd,mode,align", _cases())
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_interpolate_size_matches_reference(nd, mode, align, dtype, device):
    rng = np.random.default_rng(nd * 7 + len(mode))
    in_sp = [3, 4, 2][:nd]
    for out_sp in ([5, 7, 3][:nd], [2, 3, 1][:nd], [6, 8, 4][:nd], in_sp):
        x = rand_np((2, 3) + tuple(in_sp), dtype, rng)
        y = F.interpolate(from_np(x, device), size=out_sp, mode=mode, align_corners=align)
        tol = 1e-5 if dtype == np.float32 else 1e-12
        assert_close(y, ref_interp(x, out_sp, _ref_mode(mode), bool(align)).astype(dtype),
                     rtol=tol, atol=tol)


@given(st.data())
def test_interpolate_random_shapes(data):
    nd, mode, align = data.draw(st.sampled_from(_cases() + [(1, "area", None), (2, "area", None),
                                                            (3, "area", None)]))
    n, c = data.draw(st.integers(0, 2)), data.draw(st.integers(1, 3))
    in_sp = data.draw(st.lists(st.integers(1, 5), min_size=nd, max_size=nd))
    out_sp = data.draw(st.lists(st.integers(1, 6), min_size=nd, max_size=nd))
    x = rand_np((n, c) + tuple(in_sp), np.float64, np.random.default_rng(len(in_sp) + n))
    y = F.interpolate(from_np(x), size=out_sp, mode=mode, align_corners=align)
    ref = ref_area(x, out_sp) if mode == "area" else ref_interp(x, out_sp, _ref_mode(mode),
                                                                 bool(align))
    assert_close(y, ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("nd,mode,align", _cases())
def test_interpolate_scale_factor_uses_scale(nd, mode, align):
    # scale_factor given (and not recomputed): output size floor(n * f); coordinates use 1/f
    rng = np.random.default_rng(3)
    in_sp = [5, 3, 4][:nd]
    for f in (1.7, 0.6, 2.0, 2.5):
        x = rand_np((1, 2) + tuple(in_sp), np.float64, rng)
        out_sp = [int(math.floor(n * f)) for n in in_sp]
        if min(out_sp) == 0:
            continue
        y = F.interpolate(from_np(x), scale_factor=f, mode=mode, align_corners=align)
        assert_close(y, ref_interp(x, out_sp, _ref_mode(mode), bool(align), [f] * nd),
                     rtol=1e-12, atol=1e-12)
        # recompute_scale_factor=True: the same as giving the computed size
        y2 = F.interpolate(from_np(x), scale_factor=f, mode=mode, align_corners=align,
                           recompute_scale_factor=True)
        assert_close(y2, ref_interp(x, out_sp, _ref_mode(mode), bool(align)), rtol=1e-12,
                     atol=1e-12)


def test_scale_factor_differs_from_size_when_not_recomputed():
    x = np.arange(5.0).reshape(1, 1, 5)
    a = to_np(F.interpolate(from_np(x), scale_factor=1.7, mode="linear"))
    b = to_np(F.interpolate(from_np(x), scale_factor=1.7, mode="linear",
                            recompute_scale_factor=True))
    assert a.shape == b.shape == (1, 1, 8)
    assert not np.allclose(a, b)


def test_per_dim_scale_factors_and_sizes():
    x = rand_np((1, 2, 3, 4), np.float64)
    y = F.interpolate(from_np(x), scale_factor=(2.0, 1.5), mode="bilinear")
    assert_close(y, ref_interp(x, [6, 6], "linear", False, [2.0, 1.5]), rtol=1e-12, atol=1e-12)
    y = F.interpolate(from_np(x), size=(5, 2), mode="nearest")
    assert_close(y, ref_interp(x, [5, 2], "nearest"), rtol=0, atol=0)
    y = F.interpolate(from_np(x), size=4, mode="nearest-exact")
    assert_close(y, ref_interp(x, [4, 4], "nearest-exact"), rtol=0, atol=0)


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_area_is_adaptive_average(nd):
    x = rand_np((2, 3) + (7, 5, 3)[:nd], np.float64)
    for size in ((3, 2, 2)[:nd], (7, 5, 3)[:nd], (4, 4, 1)[:nd], (9, 6, 5)[:nd]):
        assert_close(F.interpolate(from_np(x), size=list(size), mode="area"),
                     ref_area(x, size), rtol=1e-12, atol=1e-12)
    y = F.interpolate(from_np(x), scale_factor=0.5, mode="area")
    assert_close(y, ref_area(x, [n // 2 for n in x.shape[2:]]), rtol=1e-12, atol=1e-12)
    assert gradcheck(lambda t: F.interpolate(t, size=(3, 2, 2)[:nd], mode="area"), x[:1, :2])


def test_noncontiguous_and_zero_batch():
    x = rand_np((2, 3, 4, 5), np.float32)
    xt = noncontiguous(from_np(x))
    assert not xt.is_contiguous()
    assert_close(F.interpolate(xt, size=(7, 3), mode="bilinear"),
                 ref_interp(x, [7, 3], "linear").astype(np.float32), rtol=1e-5, atol=1e-5)
    xt = from_np(x).transpose(2, 3)
    assert_close(F.interpolate(xt, size=(3, 6), mode="bicubic", align_corners=True),
                 ref_interp(x.transpose(0, 1, 3, 2), [3, 6], "cubic", True).astype(np.float32),
                 rtol=1e-5, atol=1e-5)
    z = ranvier.zeros(0, 3, 4, 5, requires_grad=True)
    y = F.interpolate(z, scale_factor=2, mode="bilinear")
    assert tuple(y.shape) == (0, 3, 8, 10)
    y.sum().backward()
    assert tuple(z.grad.shape) == (0, 3, 4, 5)


def test_nearest_integer_dtypes():
    x = np.arange(24).reshape(1, 2, 3, 4)
    for dt in (np.uint8, np.int32, np.int64):
        for mode in ("nearest", "nearest-exact"):
            y = F.interpolate(from_np(x.astype(dt)), size=(5, 7), mode=mode)
            assert_close(y, ref_interp(x, [5, 7], mode).astype(dt))
    big = np.array([[[2 ** 52 + 1, -(2 ** 50) - 3]]], dtype=np.int64)
    assert_close(F.interpolate(from_np(big), scale_factor=2), np.repeat(big, 2, axis=2))
    with pytest.raises(TypeError, match="upsample_linear: expected a floating point input"):
        F.interpolate(from_np(x[0].astype(np.uint8)), size=5, mode="linear")
    with pytest.raises(TypeError, match="upsample_nearest: expected a floating point"):
        F.interpolate(ranvier.zeros(1, 1, 2, dtype=ranvier.bool), size=5)


def test_reduced_precision_dtypes():
    x = rand_np((1, 2, 3, 3), np.float32)
    for dt in (ranvier.float16, ranvier.bfloat16):
        y = F.interpolate(from_np(x).to(dt), size=(5, 4), mode="bilinear")
        assert y.dtype == dt
        np.testing.assert_allclose(to_np(y.float()), ref_interp(x, [5, 4], "linear"),
                                   rtol=2e-2, atol=2e-2)


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
@pytest.mark.parametrize("align", [False, True])
def test_antialias(mode, align):
    rng = np.random.default_rng(11)
    rmode = "linear-aa" if mode == "bilinear" else "cubic-aa"
    x = rand_np((2, 3, 11, 8), np.float64, rng)
    for kw, size, sc in (({"size": (4, 3)}, [4, 3], None), ({"size": (13, 5)}, [13, 5], None),
                         ({"scale_factor": 0.37}, [4, 2], [0.37, 0.37]),
                         ({"scale_factor": 0.4, "recompute_scale_factor": True}, [4, 3], None),
                         ({"size": (1, 1)}, [1, 1], None)):
        y = F.interpolate(from_np(x), mode=mode, align_corners=align, antialias=True, **kw)
        assert_close(y, ref_interp(x, size, rmode, align, sc), rtol=1e-12, atol=1e-12)
    xf = x.astype(np.float32)
    y = F.interpolate(noncontiguous(from_np(xf)), size=(5, 3), mode=mode, align_corners=align,
                      antialias=True)
    assert_close(y, ref_interp(xf, [5, 3], rmode, align).astype(np.float32), rtol=1e-5,
                 atol=1e-5)
    assert gradcheck(lambda t: F.interpolate(t, size=(3, 2), mode=mode, align_corners=align,
                                             antialias=True), x[:1, :2, :7, :5])


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
def test_antialias_against_torch(mode):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(12)
    x = rand_np((2, 3, 17, 12), np.float32, rng)
    # (outputs of width 1 are left out: torch 2.x's separable kernel gets those wrong)
    for kw in ({"size": (5, 4)}, {"scale_factor": 0.45}, {"size": (20, 7)}):
        for align in (False, True):
            xt = from_np(x, requires_grad=True)
            y = F.interpolate(xt, mode=mode, align_corners=align, antialias=True, **kw)
            tx = torch.tensor(x, requires_grad=True)
            ty = torch.nn.functional.interpolate(tx, mode=mode, align_corners=align,
                                                 antialias=True, **kw)
            np.testing.assert_allclose(to_np(y), ty.detach().numpy(), rtol=1e-5, atol=1e-5)
            g = rand_np(tuple(ty.shape), np.float32, rng)
            (y * from_np(g)).sum().backward()
            ty.backward(torch.tensor(g))
            np.testing.assert_allclose(to_np(xt.grad), tx.grad.numpy(), rtol=1e-4, atol=1e-5)


# -- backward -----------------------------------------------------------------------------------
@pytest.mark.parametrize("nd,mode,align", _cases())
def test_gradcheck(nd, mode, align):
    x = rand_np((2, 2) + (3, 4, 2)[:nd], np.float64)
    size = (5, 3, 3)[:nd]
    assert gradcheck(lambda t: F.interpolate(t, size=size, mode=mode, align_corners=align), x)
    assert gradcheck(lambda t: F.interpolate(t, scale_factor=1.5, mode=mode,
                                             align_corners=align), x)


@pytest.mark.parametrize("mode", ["nearest", "bilinear", "bicubic"])
def test_gradgradcheck(mode):
    x = rand_np((1, 2, 3, 3), np.float64)
    align = None if mode == "nearest" else False
    assert gradgradcheck(lambda t: F.interpolate(t, size=(4, 5), mode=mode,
                                                 align_corners=align) ** 2, x)


def test_backward_matches_transposed_reference():
    # The gradient of sum(g * interpolate(x)) is the transpose of the interpolation matrix.
    x = rand_np((1, 1, 4, 3), np.float64)
    g = rand_np((1, 1, 7, 5), np.float64)
    xt = from_np(x, requires_grad=True)
    (F.interpolate(xt, size=(7, 5), mode="bicubic") * from_np(g)).sum().backward()
    expected = np.zeros_like(x)
    for idx in np.ndindex(*x.shape):
        e = np.zeros_like(x)
        e[idx] = 1
        expected[idx] = (ref_interp(e, [7, 5], "cubic") * g).sum()
    assert_close(xt.grad, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("mode", ["bilinear", "bicubic", "area"])
def test_thread_count_invariant(mode):
    x = rand_np((4, 8, 17, 13), np.float32)
    g = rand_np((4, 8, 40, 29), np.float32)
    n0 = ranvier.get_num_threads()
    outs, grads = [], []
    try:
        for n in (1, 2, 3):
            ranvier.set_num_threads(n)
            xt = from_np(x, requires_grad=True)
            y = F.interpolate(xt, size=(40, 29), mode=mode)
            (y * from_np(g)).sum().backward()
            outs.append(to_np(y))
            grads.append(to_np(xt.grad))
    finally:
        ranvier.set_num_threads(n0)
    for o, gr in zip(outs[1:], grads[1:]):
        np.testing.assert_array_equal(o, outs[0])
        np.testing.assert_array_equal(gr, grads[0])


# -- aliases and modules ------------------------------------------------------------------------
def test_deprecated_aliases_and_modules():
    x = rand_np((1, 2, 3, 4), np.float32)
    xt = from_np(x)
    with pytest.warns(UserWarning, match="deprecated"):
        y = F.upsample_bilinear(xt, scale_factor=2)
    assert_close(y, ref_interp(x, [6, 8], "linear", True).astype(np.float32), rtol=1e-5,
                 atol=1e-6)
    with pytest.warns(UserWarning, match="deprecated"):
        y = F.upsample_nearest(xt, size=(5, 5))
    assert_close(y, ref_interp(x, [5, 5], "nearest").astype(np.float32), rtol=0, atol=0)
    with pytest.warns(UserWarning, match="deprecated"):
        y = F.upsample(xt, size=(5, 5), mode="bicubic", align_corners=False)
    assert_close(y, ref_interp(x, [5, 5], "cubic").astype(np.float32), rtol=1e-5, atol=1e-5)
    m = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)
    assert_close(m(xt), ref_interp(x, [6, 8], "linear", True).astype(np.float32), rtol=1e-5,
                 atol=1e-6)
    assert repr(m) == "Upsample(scale_factor=2.0, mode='bilinear')"
    assert list(m.state_dict().keys()) == []
    assert_close(nn.UpsamplingNearest2d(size=(4, 6))(xt),
                 ref_interp(x, [4, 6], "nearest").astype(np.float32), rtol=0, atol=0)
    assert_close(nn.UpsamplingBilinear2d(scale_factor=1.5)(xt),
                 ref_interp(x, [4, 6], "linear", True).astype(np.float32), rtol=1e-5, atol=1e-6)
    assert repr(nn.Upsample(size=(3, 3))) == "Upsample(size=(3, 3), mode='nearest')"


# -- errors -------------------------------------------------------------------------------------
def test_interpolate_errors():
    x4 = ranvier.zeros(1, 2, 3, 3)
    with pytest.raises(ValueError, match="only one of size or scale_factor"):
        F.interpolate(x4, size=4, scale_factor=2)
    with pytest.raises(ValueError, match="either size or scale_factor"):
        F.interpolate(x4)
    with pytest.raises(ValueError, match="align_corners option can only be set"):
        F.interpolate(x4, size=4, mode="nearest", align_corners=True)
    with pytest.raises(ValueError, match="align_corners option can only be set"):
        F.interpolate(x4, size=4, mode="area", align_corners=False)
    with pytest.raises(NotImplementedError, match=r"Only 3D, 4D and 5D.*got 2D"):
        F.interpolate(ranvier.zeros(2, 3), size=4)
    with pytest.raises(NotImplementedError, match=r"Only 3D, 4D and 5D.*got 6D"):
        F.interpolate(ranvier.zeros(1, 1, 1, 1, 1, 1), size=2)
    with pytest.raises(NotImplementedError, match="Got 4D input, but linear mode needs 3D"):
        F.interpolate(x4, size=4, mode="linear")
    with pytest.raises(NotImplementedError, match="Got 3D input, but bilinear mode needs 4D"):
        F.interpolate(ranvier.zeros(1, 2, 3), size=4, mode="bilinear")
    with pytest.raises(NotImplementedError, match="bicubic mode needs 4D"):
        F.interpolate(ranvier.zeros(1, 1, 2, 2, 2), size=4, mode="bicubic")
    with pytest.raises(NotImplementedError, match="got bogus"):
        F.interpolate(x4, size=4, mode="bogus")
    with pytest.raises(ValueError, match="same number of spatial dimensions"):
        F.interpolate(x4, size=(4, 4, 4))
    with pytest.raises(ValueError, match="same number of spatial dimensions"):
        F.interpolate(x4, scale_factor=(2.0,))
    with pytest.raises(ValueError, match="recompute_scale_factor is not meaningful"):
        F.interpolate(x4, size=4, recompute_scale_factor=True)
    with pytest.raises(ValueError, match=r"upsample_nearest: input and output sizes should be "
                                         r"greater than 0.*\[3, 3\].*\[0, 0\]"):
        F.interpolate(x4, scale_factor=0.2)
    with pytest.raises(ValueError, match="greater than 0"):
        F.interpolate(ranvier.zeros(1, 1, 0, 3), size=(2, 2), mode="bilinear")
    with pytest.raises(TypeError, match=r"upsample_linear: expected a floating point input.*"
                                        r"int64"):
        F.interpolate(ranvier.zeros(1, 1, 3, dtype=ranvier.int64), size=4, mode="linear")
    with pytest.raises(ValueError, match="Anti-alias option is restricted"):
        F.interpolate(ranvier.zeros(1, 1, 3), size=4, mode="linear", antialias=True)


# -- pixel / channel shuffle --------------------------------------------------------------------
def ref_pixel_shuffle(x, r):
    *b, c, h, w = x.shape
    y = np.zeros(tuple(b) + (c // (r * r), h * r, w * r), x.dtype)
    for idx in np.ndindex(*y.shape):
        *bi, co, yh, yw = idx
        ci = co * r * r + (yh % r) * r + (yw % r)
        y[idx] = x[tuple(bi) + (ci, yh // r, yw // r)]
    return y


def ref_pixel_unshuffle(x, r):
    *b, c, h, w = x.shape
    y = np.zeros(tuple(b) + (c * r * r, h // r, w // r), x.dtype)
    for idx in np.ndindex(*x.shape):
        *bi, ci, xh, xw = idx
        y[tuple(bi) + (ci * r * r + (xh % r) * r + (xw % r), xh // r, xw // r)] = x[idx]
    return y


@pytest.mark.parametrize("shape,r", [((1, 8, 2, 3), 2), ((2, 3, 9, 2, 2), 3), ((4, 1, 1), 2),
                                     ((0, 4, 2, 2), 2), ((12, 3, 1), 1)])
def test_pixel_shuffle(shape, r):
    if shape[-3] % (r * r):
        shape = shape[:-3] + (r * r,) + shape[-2:]
    x = rand_np(shape, np.float64)
    y = F.pixel_shuffle(from_np(x), r)
    assert_close(y, ref_pixel_shuffle(x, r), rtol=0, atol=0)
    assert_close(nn.PixelShuffle(r)(noncontiguous(from_np(x))), ref_pixel_shuffle(x, r),
                 rtol=0, atol=0)
    assert_close(F.pixel_unshuffle(y, r), x, rtol=0, atol=0)
    big = rand_np(shape[:-2] + (shape[-2] * r, shape[-1] * r), np.float64)
    assert_close(nn.PixelUnshuffle(r)(from_np(big)), ref_pixel_unshuffle(big, r), rtol=0, atol=0)
    if x.size:
        assert gradcheck(lambda t: F.pixel_shuffle(t, r), x)
        assert gradcheck(lambda t: F.pixel_unshuffle(t, r), big)


def test_pixel_shuffle_dtypes_and_repr():
    x = np.arange(16).reshape(1, 4, 2, 2)
    for dt in (np.int64, np.float32, np.bool_):
        xa = (x % 2).astype(dt) if dt == np.bool_ else x.astype(dt)
        assert_close(F.pixel_shuffle(from_np(xa), 2), ref_pixel_shuffle(xa, 2))
    assert repr(nn.PixelShuffle(3)) == "PixelShuffle(upscale_factor=3)"
    assert repr(nn.PixelUnshuffle(2)) == "PixelUnshuffle(downscale_factor=2)"


def test_shuffle_errors():
    with pytest.raises(RuntimeError, match="pixel_shuffle expects input to have at least 3"):
        F.pixel_shuffle(ranvier.zeros(4, 4), 2)
    with pytest.raises(RuntimeError, match="pixel_shuffle expects a positive upscale_factor"):
        F.pixel_shuffle(ranvier.zeros(1, 4, 2, 2), 0)
    with pytest.raises(RuntimeError, match=r"divisible by the square of upscale_factor.*"
                                           r"input.size\(-3\)=5 is not divisible by 4"):
        F.pixel_shuffle(ranvier.zeros(1, 5, 2, 2), 2)
    with pytest.raises(RuntimeError, match=r"pixel_unshuffle expects height to be divisible.*"
                                           r"input.size\(-2\)=3"):
        F.pixel_unshuffle(ranvier.zeros(1, 1, 3, 4), 2)
    with pytest.raises(RuntimeError, match=r"pixel_unshuffle expects width.*input.size\(-1\)=5"):
        F.pixel_unshuffle(ranvier.zeros(1, 1, 4, 5), 2)
    with pytest.raises(RuntimeError, match="pixel_unshuffle expects a positive downscale"):
        F.pixel_unshuffle(ranvier.zeros(1, 1, 4, 4), -1)
    with pytest.raises(TypeError, match="upscale_factor"):
        F.pixel_shuffle(ranvier.zeros(1, 4, 2, 2), 2.0)
    with pytest.raises(RuntimeError, match="divisible by groups. Got 5 channels and 2 groups"):
        F.channel_shuffle(ranvier.zeros(1, 5, 2), 2)
    with pytest.raises(RuntimeError, match="Number of groups to divide channels in must be "
                                           "positive"):
        F.channel_shuffle(ranvier.zeros(1, 4, 2), 0)
    with pytest.raises(RuntimeError, match="channel_shuffle expects input to have at least 3"):
        F.channel_shuffle(ranvier.zeros(4, 2), 2)


def test_channel_shuffle():
    x = rand_np((2, 6, 3), np.float64)
    g = 3
    ref = np.zeros_like(x)
    k = 6 // g
    for gi in range(g):
        for ki in range(k):
            ref[:, ki * g + gi] = x[:, gi * k + ki]
    assert_close(F.channel_shuffle(from_np(x), g), ref, rtol=0, atol=0)
    assert_close(nn.ChannelShuffle(g)(from_np(x)), ref, rtol=0, atol=0)
    assert repr(nn.ChannelShuffle(g)) == "ChannelShuffle(groups=3)"
    assert gradcheck(lambda t: F.channel_shuffle(t, g), x)


# -- PyTorch ------------------------------------------------------------------------------------
@pytest.mark.parametrize("nd,mode,align", _cases())
def test_against_torch(nd, mode, align):
    _torch_compare(nd, mode, align)


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_area_against_torch(nd):
    _torch_compare(nd, "area", None)


def _torch_compare(nd, mode, align):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    x = rand_np((2, 3) + (5, 3, 4)[:nd], np.float32, rng)
    for kw in ({"size": (7, 2, 6)[:nd]}, {"scale_factor": 1.37},
               {"scale_factor": 0.62, "recompute_scale_factor": True}, {"scale_factor": 3}):
        xt = from_np(x, requires_grad=True)
        y = F.interpolate(xt, mode=mode, align_corners=align, **kw)
        tx = torch.tensor(x, requires_grad=True)
        ty = torch.nn.functional.interpolate(tx, mode=mode, align_corners=align, **kw)
        np.testing.assert_allclose(to_np(y), ty.detach().numpy(), rtol=1e-5, atol=1e-5)
        g = rand_np(tuple(ty.shape), np.float32, rng)
        (y * from_np(g)).sum().backward()
        (ty * torch.tensor(g)).sum().backward()
        np.testing.assert_allclose(to_np(xt.grad), tx.grad.numpy(), rtol=1e-4, atol=1e-4)


def test_shuffles_against_torch():
    torch = pytest.importorskip("torch")
    x = rand_np((2, 18, 3, 4), np.float32)
    np.testing.assert_array_equal(to_np(F.pixel_shuffle(from_np(x), 3)),
                                  torch.nn.functional.pixel_shuffle(torch.tensor(x), 3).numpy())
    np.testing.assert_array_equal(to_np(F.pixel_unshuffle(from_np(x), 1)),
                                  torch.nn.functional.pixel_unshuffle(torch.tensor(x), 1).numpy())
    np.testing.assert_array_equal(to_np(F.channel_shuffle(from_np(x), 6)),
                                  torch.nn.functional.channel_shuffle(torch.tensor(x), 6).numpy())
