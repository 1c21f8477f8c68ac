"""Pooling: max/avg/adaptive/lp pooling and unpooling against NumPy loops (values and PyTorch's
flat per-plane indices), float64 finite-difference gradients, errors, the pooling layers."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import ranvier
import ranvier.nn as nn
import ranvier.nn.functional as F
from helpers import assert_close, from_np, gradcheck, noncontiguous, to_np

RNG = np.random.default_rng(99)


def rnd(*shape, dtype=np.float64):
    return RNG.uniform(-1, 1, size=shape).astype(dtype)


def out_len(n, k, s, p, d, ceil):
    span = n + 2 * p - d * (k - 1) - 1
    o = (-(-span // s) if ceil else span // s) + 1
    if ceil and (o - 1) * s >= n + p:
        o -= 1
    return o


def np_max_pool2d(x, k, s, p, d, ceil=False):
    n, c, h, w = x.shape
    oh, ow = out_len(h, k[0], s[0], p[0], d[0], ceil), out_len(w, k[1], s[1], p[1], d[1], ceil)
    out = np.empty((n, c, oh, ow), x.dtype)
    idx = np.empty((n, c, oh, ow), np.int64)
    for i in range(oh):
        for j in range(ow):
            best = np.full((n, c), -np.inf)
            bidx = np.zeros((n, c), np.int64)
            for a in range(k[0]):
                y = i * s[0] - p[0] + a * d[0]
                for b in range(k[1]):
                    xx = j * s[1] - p[1] + b * d[1]
                    if 0 <= y < h and 0 <= xx < w:
                        v = x[:, :, y, xx]
                        better = v > best
                        best = np.where(better, v, best)
                        bidx = np.where(better, y * w + xx, bidx)
            out[:, :, i, j], idx[:, :, i, j] = best, bidx
    return out, idx


def np_avg_pool2d(x, k, s, p, ceil=False, include_pad=True, divisor=None):
    n, c, h, w = x.shape
    oh, ow = out_len(h, k[0], s[0], p[0], 1, ceil), out_len(w, k[1], s[1], p[1], 1, ceil)
    out = np.empty((n, c, oh, ow), x.dtype)
    for i in range(oh):
        for j in range(ow):
            y0, x0 = i * s[0] - p[0], j * s[1] - p[1]
            y1, x1 = min(y0 + k[0], h + p[0]), min(x0 + k[1], w + p[1])
            area = (y1 - y0) * (x1 - x0)
            ya, yb, xa, xb = max(y0, 0), min(y1, h), max(x0, 0), min(x1, w)
            total = x[:, :, ya:yb, xa:xb].sum(axis=(2, 3))
            if divisor is not None:
                dv = divisor
            else:
                dv = area if include_pad else (yb - ya) * (xb - xa)
            out[:, :, i, j] = total / dv
    return out


MAX_CASES = [((2, 2), None, (0, 0), (1, 1), False), ((3, 3), (2, 2), (1, 1), (1, 1), False),
             ((3, 2), (2, 1), (1, 0), (2, 1), True), ((2, 3), (3, 2), (1, 1), (1, 2), True),
             ((4, 4), (1, 3), (2, 0), (1, 1), False)]


@pytest.mark.parametrize("k,s,p,d,ceil", MAX_CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_max_pool2d_values_and_indices(k, s, p, d, ceil, dtype, device):
    x = rnd(2, 3, 9, 8, dtype=dtype)
    out, idx = F.max_pool2d(from_np(x, device), k, s, p, d, ceil_mode=ceil, return_indices=True)
    ro, ri = np_max_pool2d(x, k, s or k, p, d, ceil)
    assert_close(out, ro, rtol=0, atol=0)
    assert_close(idx, ri)
    assert idx.dtype == ranvier.int64
    out_nc = F.max_pool2d(noncontiguous(from_np(x, device)), k, s, p, d, ceil_mode=ceil)
    assert_close(out_nc, ro, rtol=0, atol=0)
    out_u, idx_u = F.max_pool2d(from_np(x[1], device), k, s, p, d, ceil_mode=ceil,
                                return_indices=True)
    assert_close(out_u, ro[1], rtol=0, atol=0)
    assert_close(idx_u, ri[1])


@given(st.integers(1, 4), st.integers(1, 3), st.integers(0, 2), st.integers(1, 2), st.booleans(),
       st.integers(4, 9), st.integers(4, 9))
def test_pools_random_configs(k, s, p, d, ceil, h, w):
    p = min(p, k // 2)
    if h + 2 * p < d * (k - 1) + 1 or w + 2 * p < d * (k - 1) + 1:
        return
    x = rnd(2, 2, h, w)
    out, idx = F.max_pool2d(from_np(x), k, s, p, d, ceil, return_indices=True)
    ro, ri = np_max_pool2d(x, (k, k), (s, s), (p, p), (d, d), ceil)
    assert_close(out, ro, rtol=0, atol=0)
    assert_close(idx, ri)
    assert_close(F.avg_pool2d(from_np(x), k, s, p, ceil, not ceil),
                 np_avg_pool2d(x, (k, k), (s, s), (p, p), ceil, not ceil), rtol=1e-12, atol=1e-12)


def test_max_pool1d_and_nan():
    x = rnd(2, 3, 11)
    out, idx = F.max_pool1d(from_np(x), 3, 2, 1, 2, ceil_mode=True, return_indices=True)
    ro, ri = np_max_pool2d(x[:, :, None], (1, 3), (1, 2), (0, 1), (1, 2), True)
    assert_close(out, ro[:, :, 0], rtol=0, atol=0)
    assert_close(idx, ri[:, :, 0])
    xn = np.array([[[1.0, np.nan, 3.0, 0.0]]])
    assert np.isnan(to_np(F.max_pool1d(from_np(xn), 4))).all()


AVG_CASES = [((2, 2), None, (0, 0), False, True, None), ((3, 3), (2, 2), (1, 1), False, False, None),
             ((3, 2), (2, 1), (1, 1), True, True, None), ((3, 3), (2, 2), (1, 0), True, False, None),
             ((2, 3), (2, 2), (1, 1), True, True, 5)]


@pytest.mark.parametrize("k,s,p,ceil,inc,div", AVG_CASES)
def test_avg_pool2d_matches_numpy(k, s, p, ceil, inc, div, device):
    x = rnd(2, 3, 8, 7)
    out = F.avg_pool2d(noncontiguous(from_np(x, device)), k, s, p, ceil, inc, div)
    assert_close(out, np_avg_pool2d(x, k, s or k, p, ceil, inc, div), rtol=1e-12, atol=1e-12)
    x32 = x.astype(np.float32)
    assert_close(F.avg_pool2d(from_np(x32[0], device), k, s, p, ceil, inc, div),
                 np_avg_pool2d(x32, k, s or k, p, ceil, inc, div)[0], rtol=1e-5, atol=1e-6)


def test_avg_pool1d_matches_numpy():
    x = rnd(2, 3, 10)
    for ceil, inc in [(False, True), (True, False), (True, True)]:
        out = F.avg_pool1d(from_np(x), 3, 2, 1, ceil, inc)
        ref = np_avg_pool2d(x[:, :, None], (1, 3), (1, 2), (0, 1), ceil, inc)[:, :, 0]
        assert_close(out, ref, rtol=1e-12, atol=1e-12)


def np_adaptive(x, oh, ow, fn):
    n, c, h, w = x.shape
    out = np.empty((n, c, oh, ow))
    for i in range(oh):
        a, b = (i * h) // oh, -(-((i + 1) * h) // oh)
        for j in range(ow):
            e, f = (j * w) // ow, -(-((j + 1) * w) // ow)
            out[:, :, i, j] = fn(x[:, :, a:b, e:f], axis=(2, 3))
    return out


@pytest.mark.parametrize("size", [(3, 2), (5, 7), (1, 1), (4, None), 2])
def test_adaptive_pools(size):
    x = rnd(2, 3, 5, 7)
    oh, ow = (size, size) if isinstance(size, int) else (size[0], size[1] or 7)
    assert_close(F.adaptive_avg_pool2d(from_np(x), size), np_adaptive(x, oh, ow, np.mean),
                 rtol=1e-12, atol=1e-12)
    out, idx = F.adaptive_max_pool2d(noncontiguous(from_np(x)), size, return_indices=True)
    assert_close(out, np_adaptive(x, oh, ow, np.max), rtol=0, atol=0)
    flat = x.reshape(2, 3, -1)
    np.testing.assert_array_equal(np.take_along_axis(flat, to_np(idx).reshape(2, 3, -1), 2),
                                  to_np(out).reshape(2, 3, -1))
    x1 = rnd(2, 3, 10)
    assert_close(F.adaptive_avg_pool1d(from_np(x1), 4),
                 np_adaptive(x1[:, :, None], 1, 4, np.mean)[:, :, 0], rtol=1e-12, atol=1e-12)
    assert_close(F.adaptive_max_pool1d(from_np(x1[0]), 3),
                 np_adaptive(x1[:1, :, None], 1, 3, np.max)[0, :, 0], rtol=0, atol=0)


def test_unpool_round_trip():
    x = np.abs(rnd(2, 3, 8, 6)) + 0.1
    out, idx = F.max_pool2d(from_np(x), 2, return_indices=True)
    up = to_np(F.max_unpool2d(out, idx, 2))
    assert up.shape == x.shape
    ro, _ = np_max_pool2d(x, (2, 2), (2, 2), (0, 0), (1, 1))
    mask = up != 0
    np.testing.assert_array_equal(up[mask], x[mask])
    assert mask.sum() == ro.size
    np.testing.assert_array_equal(to_np(F.max_pool2d(from_np(up), 2)), ro)
    # odd input size needs output_size
    x2 = rnd(1, 2, 7, 5)
    o2, i2 = F.max_pool2d(from_np(x2), 2, return_indices=True)
    assert tuple(F.max_unpool2d(o2, i2, 2, output_size=(1, 2, 7, 5)).shape) == (1, 2, 7, 5)
    x1 = rnd(2, 2, 9)
    o1, i1 = F.max_pool1d(from_np(x1), 3, return_indices=True)
    up1 = to_np(nn.MaxUnpool1d(3)(o1, i1))
    np.testing.assert_array_equal(np.sort(up1[up1 != 0]), np.sort(to_np(o1).ravel()))


# --- gradients --------------------------------------------------------------------------------

def test_pool_gradchecks():
    x = rnd(2, 2, 6, 5)
    assert gradcheck(lambda t: F.max_pool2d(t, 3, 2, 1, ceil_mode=True), x)
    assert gradcheck(lambda t: F.avg_pool2d(t, 3, 2, 1, True, False), x)
    assert gradcheck(lambda t: F.adaptive_avg_pool2d(t, (4, 3)), x)
    assert gradcheck(lambda t: F.adaptive_max_pool2d(t, (2, 3)), x)
    assert gradcheck(lambda t: F.lp_pool2d(t, 2.0, 2), np.abs(x) + 0.5)
    assert gradcheck(lambda t: F.max_pool1d(t, 2, 1, dilation=2), rnd(2, 2, 7))
    _, idx = F.max_pool2d(from_np(rnd(2, 2, 6, 4)), 2, return_indices=True)
    assert gradcheck(lambda t: F.max_unpool2d(t, idx, 2), rnd(2, 2, 3, 2))


def test_pool_double_backward_and_zero_batch():
    from helpers import gradgradcheck
    assert gradgradcheck(lambda t: F.max_pool2d(t, 2, 1) ** 2, rnd(1, 2, 4, 4))
    assert gradgradcheck(lambda t: F.avg_pool2d(t, 2, 1, 1) ** 2, rnd(1, 2, 3, 4))
    for fn in [lambda t: F.max_pool2d(t, 2), lambda t: F.avg_pool2d(t, 2),
               lambda t: F.adaptive_avg_pool2d(t, 2), lambda t: F.adaptive_max_pool2d(t, 2)]:
        assert tuple(fn(ranvier.zeros(0, 3, 4, 4)).shape) == (0, 3, 2, 2)


def test_lp_pool_matches_numpy():
    x = np.abs(rnd(2, 2, 6, 6)) + 0.1
    out = F.lp_pool2d(from_np(x), 3, (2, 3), 2)
    ref = np.empty((2, 2, 3, 2))
    for i in range(3):
        for j in range(2):
            ref[:, :, i, j] = (x[:, :, 2 * i:2 * i + 2, 2 * j:2 * j + 3] ** 3).sum((2, 3)) ** (1 / 3)
    assert_close(out, ref, rtol=1e-10, atol=1e-10)
    out1 = F.lp_pool1d(from_np(x[:, :, 0]), 2, 2)
    ref1 = np.sqrt((x[:, :, 0, 0::2] ** 2) + (x[:, :, 0, 1::2] ** 2))
    assert_close(out1, ref1, rtol=1e-10, atol=1e-10)


# --- errors -----------------------------------------------------------------------------------

def test_pool_errors():
    x = ranvier.zeros(1, 4, 5, 5)
    with pytest.raises(RuntimeError, match="max_pool2d.*pad should be at most half"):
        F.max_pool2d(x, 3, padding=2)
    with pytest.raises(RuntimeError, match="avg_pool2d.*pad should be at most half"):
        F.avg_pool2d(x, 3, padding=2)
    with pytest.raises(RuntimeError, match="max_pool2d.*kernel_size must be greater than zero"):
        F.max_pool2d(x, 0)
    with pytest.raises(RuntimeError, match="max_pool2d.*stride must be greater than zero"):
        F.max_pool2d(x, 2, stride=0)
    with pytest.raises(RuntimeError, match="avg_pool1d.*stride must be greater than zero"):
        F.avg_pool1d(ranvier.zeros(1, 2, 5), 2, stride=-1)
    with pytest.raises(RuntimeError, match="max_pool2d.*dilation must be greater than zero"):
        F.max_pool2d(x, 2, dilation=0)
    with pytest.raises(RuntimeError, match=r"max_pool2d.*\[1, 4, 5, 5\].*too small"):
        F.max_pool2d(x, 7)
    with pytest.raises(RuntimeError, match=r"avg_pool2d.*too small"):
        F.avg_pool2d(x, 6)
    with pytest.raises(RuntimeError, match=r"Expected 3D \(unbatched\) or 4D.*max_pool2d.*\[5\]"):
        F.max_pool2d(ranvier.zeros(5), 2)
    with pytest.raises(RuntimeError, match=r"max_pool2d.*non-empty.*\[1, 4, 0, 5\]"):
        F.max_pool2d(ranvier.zeros(1, 4, 0, 5), 2)
    with pytest.raises(TypeError, match="max_pool2d.*float32 or float64"):
        F.max_pool2d(x.long(), 2)
    with pytest.raises(RuntimeError, match="avg_pool2d.*divisor must be not zero"):
        F.avg_pool2d(x, 2, divisor_override=0)
    out, idx = F.max_pool2d(x, 2, return_indices=True)
    with pytest.raises(RuntimeError, match="max_unpool2d.*invalid output_size"):
        F.max_unpool2d(out, idx, 2, output_size=(9, 9))
    with pytest.raises(RuntimeError, match="max_unpool2d.*invalid max index"):
        F.max_unpool2d(out, idx + 100, 2)
    with pytest.raises(RuntimeError, match=r"max_unpool2d.*indices of the input's shape"):
        F.max_unpool2d(out, idx[:, :1], 2)
    with pytest.raises(RuntimeError, match=r"adaptive_avg_pool2d.*non-empty"):
        F.adaptive_avg_pool2d(ranvier.zeros(1, 2, 0, 3), 2)


# --- modules ----------------------------------------------------------------------------------

def test_pool_modules():
    x = rnd(2, 3, 8, 6)
    t = from_np(x)
    assert repr(nn.MaxPool2d(3)) == ("MaxPool2d(kernel_size=3, stride=3, padding=0, dilation=1, "
                                     "ceil_mode=False)")
    assert repr(nn.AvgPool2d(3)) == "AvgPool2d(kernel_size=3, stride=3, padding=0)"
    assert repr(nn.AvgPool1d(3)) == "AvgPool1d(kernel_size=(3,), stride=(3,), padding=(0,))"
    assert repr(nn.AdaptiveAvgPool2d((5, None))) == "AdaptiveAvgPool2d(output_size=(5, None))"
    assert repr(nn.AdaptiveMaxPool2d(3)) == "AdaptiveMaxPool2d(output_size=3)"
    assert repr(nn.MaxUnpool2d(2)) == ("MaxUnpool2d(kernel_size=(2, 2), stride=(2, 2), "
                                       "padding=(0, 0))")
    assert repr(nn.LPPool2d(2, 3)) == ("LPPool2d(norm_type=2, kernel_size=3, stride=None, "
                                       "ceil_mode=False)")
    assert list(nn.MaxPool2d(2).named_parameters()) == []
    ro, ri = np_max_pool2d(x, (2, 2), (2, 2), (0, 0), (1, 1))
    out, idx = nn.MaxPool2d(2, return_indices=True)(t)
    assert_close(out, ro, rtol=0, atol=0)
    up = np.zeros((2, 3, 48))
    np.put_along_axis(up, ri.reshape(2, 3, -1), ro.reshape(2, 3, -1), 2)
    assert_close(nn.MaxUnpool2d(2)(out, idx), up.reshape(2, 3, 8, 6), rtol=0, atol=0)
    assert_close(nn.AvgPool2d(2, 1, 1, count_include_pad=False)(t),
                 np_avg_pool2d(x, (2, 2), (1, 1), (1, 1), False, False), rtol=1e-12, atol=1e-12)
    assert_close(nn.AdaptiveAvgPool2d((3, None))(t), np_adaptive(x, 3, 6, np.mean),
                 rtol=1e-12, atol=1e-12)
    assert_close(nn.AdaptiveMaxPool2d(2)(t), np_adaptive(x, 2, 2, np.max), rtol=0, atol=0)
    assert_close(nn.MaxPool1d(2)(from_np(x[:, :, 0])), x[:, :, 0].reshape(2, 3, 3, 2).max(3),
                 rtol=0, atol=0)
    assert_close(nn.AvgPool1d(2)(from_np(x[:, :, 0])), x[:, :, 0].reshape(2, 3, 3, 2).mean(3),
                 rtol=1e-12, atol=1e-12)
    assert tuple(nn.LPPool2d(2, 2)(t).shape) == (2, 3, 4, 3)


def test_against_torch():
    torch = pytest.importorskip("torch")
    x = rnd(2, 3, 9, 7)
    tx = torch.tensor(x)
    for k, s, p, ceil, inc in [(3, 2, 1, True, False), (3, 2, 1, True, True), (2, 3, 1, True, True)]:
        ref = torch.nn.functional.avg_pool2d(tx, k, s, p, ceil, inc)
        assert_close(F.avg_pool2d(from_np(x), k, s, p, ceil, inc), ref.numpy(), rtol=1e-12,
                     atol=1e-12)
        ro, ri = torch.nn.functional.max_pool2d(tx, k, s, p, 2 if k == 2 else 1, ceil, True)
        o, i = F.max_pool2d(from_np(x), k, s, p, 2 if k == 2 else 1, ceil, True)
        assert_close(o, ro.numpy(), rtol=0, atol=0)
        assert_close(i, ri.numpy())
    ro, ri = torch.nn.functional.adaptive_max_pool2d(tx, (4, 5), True)
    o, i = F.adaptive_max_pool2d(from_np(x), (4, 5), True)
    assert_close(o, ro.numpy(), rtol=0, atol=0)
    assert_close(i, ri.numpy())
