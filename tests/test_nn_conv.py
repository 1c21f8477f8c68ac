"""conv1d/conv2d, their transposes, unfold/fold and the Conv layers: forward against direct
NumPy loops over a padded array, float64 finite-difference gradients, errors, module layout."""
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

import ranvier
import ranvier.nn as nn
import ranvier.nn.functional as F
from helpers import assert_close, from_np, gradcheck, gradgradcheck, noncontiguous, to_np

RNG = np.random.default_rng(1234)


def rnd(*shape, dtype=np.float64):
    return RNG.uniform(-1, 1, size=shape).astype(dtype)


def np_conv2d(x, w, b=None, stride=(1, 1), pad=(0, 0), dil=(1, 1), groups=1):
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    oh = (h + 2 * pad[0] - dil[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (wd + 2 * pad[1] - dil[1] * (kw - 1) - 1) // stride[1] + 1
    og = o // groups
    out = np.zeros((n, o, oh, ow), dtype=np.float64)
    for g in range(groups):
        for ki in range(kh):
            for kj in range(kw):
                y0, x0 = ki * dil[0], kj * dil[1]
                patch = xp[:, g * cg:(g + 1) * cg,
                           y0:y0 + stride[0] * (oh - 1) + 1:stride[0],
                           x0:x0 + stride[1] * (ow - 1) + 1:stride[1]]
                out[:, g * og:(g + 1) * og] += np.einsum(
                    "ncij,oc->noij", patch, w[g * og:(g + 1) * og, :, ki, kj])
    if b is not None:
        out += b.reshape(1, -1, 1, 1)
    return out.astype(x.dtype)


def np_conv_transpose2d(x, w, b=None, stride=(1, 1), pad=(0, 0), out_pad=(0, 0), groups=1,
                        dil=(1, 1)):
    n, cin, h, wd = x.shape
    _, og, kh, kw = w.shape
    cg = cin // groups
    hout = (h - 1) * stride[0] - 2 * pad[0] + dil[0] * (kh - 1) + out_pad[0] + 1
    wout = (wd - 1) * stride[1] - 2 * pad[1] + dil[1] * (kw - 1) + out_pad[1] + 1
    full = np.zeros((n, og * groups, hout + 2 * pad[0] + stride[0] + dil[0] * kh,
                     wout + 2 * pad[1] + stride[1] + dil[1] * kw))
    for g in range(groups):
        for i in range(h):
            for j in range(wd):
                for ki in range(kh):
                    for kj in range(kw):
                        full[:, g * og:(g + 1) * og, i * stride[0] + ki * dil[0],
                             j * stride[1] + kj * dil[1]] += np.einsum(
                            "nc,co->no", x[:, g * cg:(g + 1) * cg, i, j],
                            w[g * cg:(g + 1) * cg, :, ki, kj])
    out = full[:, :, pad[0]:pad[0] + hout, pad[1]:pad[1] + wout]
    if b is not None:
        out = out + b.reshape(1, -1, 1, 1)
    return out.astype(x.dtype)


CONV2D_CASES = [
    # N, C, H, W, O, (kh, kw), stride, pad, dil, groups, bias
    (2, 3, 7, 6, 4, (3, 3), (1, 1), (0, 0), (1, 1), 1, True),
    (1, 4, 8, 9, 6, (3, 2), (2, 1), (1, 0), (1, 1), 2, False),
    (3, 2, 6, 6, 5, (2, 2), (1, 2), (1, 1), (2, 1), 1, True),
    (2, 6, 5, 7, 6, (3, 3), (1, 1), (1, 1), (1, 1), 6, True),   # depthwise
    (2, 4, 9, 5, 8, (1, 1), (3, 2), (0, 0), (1, 1), 4, True),
    (1, 2, 10, 10, 3, (4, 3), (3, 3), (2, 1), (2, 3), 1, True),
]


@pytest.mark.parametrize("case", CONV2D_CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv2d_matches_numpy(case, dtype, device):
    n, c, h, w, o, k, s, p, d, g, has_bias = case
    x, wt = rnd(n, c, h, w, dtype=dtype), rnd(o, c // g, *k, dtype=dtype)
    b = rnd(o, dtype=dtype) if has_bias else None
    out = F.conv2d(from_np(x, device), from_np(wt, device),
                   None if b is None else from_np(b, device), s, p, d, g)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    assert_close(out, np_conv2d(x, wt, b, s, p, d, g), rtol=tol, atol=tol)


@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(3, 8),
       st.integers(3, 8), st.integers(1, 3), st.integers(1, 3), st.integers(0, 2),
       st.integers(1, 2), st.integers(1, 2))
def test_conv2d_random_shapes(n, cg, og, h, w, k, s, p, d, g):
    if h + 2 * p < d * (k - 1) + 1 or w + 2 * p < d * (k - 1) + 1:
        return
    x, wt, b = rnd(n, cg * g, h, w), rnd(og * g, cg, k, k), rnd(og * g)
    out = F.conv2d(from_np(x), from_np(wt), from_np(b), s, p, d, g)
    assert_close(out, np_conv2d(x, wt, b, (s, s), (p, p), (d, d), g), rtol=1e-10, atol=1e-10)


def test_conv2d_noncontiguous_and_unbatched():
    x, wt, b = rnd(2, 4, 6, 5), rnd(6, 2, 3, 3), rnd(6)
    out = F.conv2d(noncontiguous(from_np(x)), noncontiguous(from_np(wt)), from_np(b),
                   padding=1, groups=2)
    assert_close(out, np_conv2d(x, wt, b, pad=(1, 1), groups=2), rtol=1e-10, atol=1e-10)
    # transposed (permuted) input
    xt = from_np(np.ascontiguousarray(x.transpose(0, 1, 3, 2))).transpose(2, 3)
    assert not xt.is_contiguous()
    assert_close(F.conv2d(xt, from_np(wt), None, groups=2), np_conv2d(x, wt, groups=2),
                 rtol=1e-10, atol=1e-10)
    out1 = F.conv2d(from_np(x[0]), from_np(wt), from_np(b), stride=2, groups=2)
    assert_close(out1, np_conv2d(x[:1], wt, b, (2, 2), groups=2)[0], rtol=1e-10, atol=1e-10)


def test_conv2d_zero_batch():
    out = F.conv2d(ranvier.zeros(0, 3, 5, 5), ranvier.zeros(4, 3, 3, 3))
    assert tuple(out.shape) == (0, 4, 3, 3)
    out = F.conv_transpose2d(ranvier.zeros(0, 3, 2, 2), ranvier.zeros(3, 4, 3, 3), stride=2)
    assert tuple(out.shape) == (0, 4, 5, 5)
    x = ranvier.zeros(0, 3, 5, 5, requires_grad=True)
    F.conv2d(x, ranvier.zeros(4, 3, 3, 3)).sum().backward()
    assert tuple(x.grad.shape) == (0, 3, 5, 5)


@pytest.mark.parametrize("k,d", [(3, 1), (4, 1), (2, 3), (5, 2)])
def test_padding_same_and_valid(k, d):
    x, wt = rnd(2, 3, 10, 9), rnd(4, 3, k, k)
    out = F.conv2d(from_np(x), from_np(wt), padding="same", dilation=d)
    total = d * (k - 1)
    left = total // 2
    xp = np.pad(x, ((0, 0), (0, 0), (left, total - left), (left, total - left)))
    assert_close(out, np_conv2d(xp, wt, dil=(d, d)), rtol=1e-10, atol=1e-10)
    assert tuple(out.shape) == (2, 4, 10, 9)
    assert_close(F.conv2d(from_np(x), from_np(wt), padding="valid", dilation=d),
                 np_conv2d(x, wt, dil=(d, d)), rtol=1e-10, atol=1e-10)
    x1, w1 = rnd(2, 3, 11), rnd(5, 3, k)
    out1 = F.conv1d(from_np(x1), from_np(w1), padding="same", dilation=d)
    x1p = np.pad(x1, ((0, 0), (0, 0), (left, total - left)))
    assert_close(out1, np_conv2d(x1p[:, :, None], w1[:, :, None], dil=(1, d))[:, :, 0],
                 rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("s,p,d,g", [(1, 0, 1, 1), (2, 1, 1, 2), (3, 2, 2, 1), (1, 1, 2, 4)])
def test_conv1d_matches_numpy(s, p, d, g):
    x, wt, b = rnd(3, 4, 13), rnd(8, 4 // g, 3), rnd(8)
    out = F.conv1d(from_np(x), from_np(wt), from_np(b), s, p, d, g)
    ref = np_conv2d(x[:, :, None], wt[:, :, None], b, (1, s), (0, p), (1, d), g)[:, :, 0]
    assert_close(out, ref, rtol=1e-10, atol=1e-10)
    assert_close(F.conv1d(from_np(x[1]), from_np(wt), from_np(b), s, p, d, g), ref[1],
                 rtol=1e-10, atol=1e-10)


TRANSPOSE_CASES = [
    # N, Cin, H, W, Cout, k, stride, pad, out_pad, groups, dil
    (2, 3, 4, 5, 2, (3, 3), (1, 1), (0, 0), (0, 0), 1, (1, 1)),
    (1, 4, 3, 3, 6, (3, 2), (2, 2), (1, 0), (1, 1), 2, (1, 1)),
    (2, 2, 5, 4, 3, (2, 3), (3, 1), (0, 1), (2, 0), 1, (2, 2)),
    (1, 4, 4, 4, 4, (3, 3), (1, 2), (2, 1), (1, 1), 4, (2, 1)),
]


@pytest.mark.parametrize("case", TRANSPOSE_CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv_transpose2d_matches_numpy(case, dtype, device):
    n, cin, h, w, cout, k, s, p, op, g, d = case
    x, wt, b = rnd(n, cin, h, w, dtype=dtype), rnd(cin, cout // g, *k, dtype=dtype), rnd(cout, dtype=dtype)
    out = F.conv_transpose2d(from_np(x, device), from_np(wt, device), from_np(b, device), s, p,
                             op, g, d)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    assert_close(out, np_conv_transpose2d(x, wt, b, s, p, op, g, d), rtol=tol, atol=tol)


def test_conv_transpose1d_matches_numpy():
    x, wt, b = rnd(2, 4, 6), rnd(4, 3, 3), rnd(6)
    out = F.conv_transpose1d(from_np(x), from_np(wt), from_np(b), stride=2, padding=1,
                             output_padding=1, groups=2, dilation=1)
    ref = np_conv_transpose2d(x[:, :, None], wt[:, :, None], b, (1, 2), (0, 1), (0, 1), 2)
    assert_close(out, ref[:, :, 0], rtol=1e-10, atol=1e-10)
    out_u = F.conv_transpose1d(noncontiguous(from_np(x[0])), from_np(wt), None, stride=2,
                               groups=2)
    ref_u = np_conv_transpose2d(x[:1, :, None], wt[:, :, None], None, (1, 2), groups=2)
    assert_close(out_u, ref_u[0, :, 0], rtol=1e-10, atol=1e-10)


def test_conv_transpose_is_adjoint_of_conv():
    x, wt, y = rnd(2, 4, 7, 6), rnd(6, 2, 3, 2), rnd(2, 6, 4, 4)
    cx = to_np(F.conv2d(from_np(x), from_np(wt), stride=2, padding=1, dilation=1, groups=2))
    ty = to_np(F.conv_transpose2d(from_np(y), from_np(wt), stride=2, padding=1,
                                  groups=2))
    assert ty.shape == x.shape
    np.testing.assert_allclose(np.sum(cx * y), np.sum(x * ty), rtol=1e-10)


def test_unfold_fold_adjoint_and_values():
    x, y = rnd(2, 3, 5, 6), rnd(2, 3 * 4, 9)
    u = F.unfold(from_np(x), (2, 2), dilation=(1, 2), padding=1, stride=2)
    assert tuple(u.shape) == (2, 12, 9)
    f = F.fold(from_np(y), (5, 6), (2, 2), dilation=(1, 2), padding=1, stride=2)
    np.testing.assert_allclose(np.sum(to_np(u) * y), np.sum(x * to_np(f)), rtol=1e-10)
    # one column of unfold is one padded receptive field
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    np.testing.assert_allclose(to_np(u)[:, :, 4].reshape(2, 3, 2, 2),
                               xp[:, :, 2:4, 2:5:2], rtol=0)


# --- gradients --------------------------------------------------------------------------------

def test_conv2d_gradcheck():
    assert gradcheck(lambda x, w, b: F.conv2d(x, w, b, stride=(2, 1), padding=1, dilation=(1, 2),
                                              groups=2),
                     rnd(2, 4, 5, 6), rnd(4, 2, 2, 3), rnd(4))


def test_conv1d_and_transpose_gradcheck():
    assert gradcheck(lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=1, dilation=2),
                     rnd(2, 3, 9), rnd(2, 3, 3), rnd(2))
    assert gradcheck(lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1,
                                                        output_padding=1, groups=2),
                     rnd(1, 4, 3, 3), rnd(4, 1, 3, 2), rnd(2))
    assert gradcheck(lambda x, w: F.conv_transpose1d(x, w, None, stride=3, dilation=2),
                     rnd(2, 2, 4), rnd(2, 3, 2))


def test_conv2d_double_backward():
    assert gradgradcheck(lambda x, w: F.conv2d(x, w, padding=1), rnd(1, 2, 4, 4), rnd(2, 2, 2, 2))


# --- errors -----------------------------------------------------------------------------------

def test_conv_errors():
    x = ranvier.zeros(1, 4, 5, 5)
    with pytest.raises(RuntimeError, match=r"conv2d.*expected input\[1, 4, 5, 5\] to have 3 "
                                           r"channels, but got 4 channels"):
        F.conv2d(x, ranvier.zeros(8, 3, 3, 3))
    with pytest.raises(RuntimeError, match=r"Expected 3D \(unbatched\) or 4D.*conv2d.*\[5, 5\]"):
        F.conv2d(ranvier.zeros(5, 5), ranvier.zeros(8, 3, 3, 3))
    with pytest.raises(RuntimeError, match=r"conv2d.*Kernel size: \(6 x 6\).*can't be greater"):
        F.conv2d(x, ranvier.zeros(8, 4, 6, 6))
    with pytest.raises(RuntimeError, match=r"conv2d.*groups=3.*divisible by 3"):
        F.conv2d(x, ranvier.zeros(8, 2, 3, 3), groups=3)
    with pytest.raises(RuntimeError, match="conv2d.*non-positive groups"):
        F.conv2d(x, ranvier.zeros(8, 4, 3, 3), groups=0)
    with pytest.raises(RuntimeError, match="conv2d.*non-positive stride"):
        F.conv2d(x, ranvier.zeros(8, 4, 3, 3), stride=0)
    with pytest.raises(RuntimeError, match="conv1d.*non-positive stride"):
        F.conv1d(ranvier.zeros(1, 4, 5), ranvier.zeros(8, 4, 3), stride=-1)
    with pytest.raises(RuntimeError, match=r"conv2d.*kernel size should be greater than zero.*"
                                           r"\[8, 4, 0, 3\]"):
        F.conv2d(x, ranvier.zeros(8, 4, 0, 3))
    with pytest.raises(RuntimeError, match=r"conv1d.*expected weight to be 3-D"):
        F.conv1d(ranvier.zeros(1, 4, 5), ranvier.zeros(8, 4))
    with pytest.raises(RuntimeError, match="conv2d.*negative padding"):
        F.conv2d(x, ranvier.zeros(8, 4, 3, 3), padding=-1)
    with pytest.raises(RuntimeError, match="conv2d.*dilation"):
        F.conv2d(x, ranvier.zeros(8, 4, 3, 3), dilation=0)
    with pytest.raises(RuntimeError, match="conv2d.*'same' is not supported for strided"):
        F.conv2d(x, ranvier.zeros(8, 4, 3, 3), stride=2, padding="same")
    with pytest.raises(RuntimeError, match="conv2d.*Invalid padding string"):
        F.conv2d(x, ranvier.zeros(8, 4, 3, 3), padding="full")
    with pytest.raises(RuntimeError, match=r"conv2d.*bias.*8 elements.*\[7\]"):
        F.conv2d(x, ranvier.zeros(8, 4, 3, 3), ranvier.zeros(7))
    with pytest.raises(TypeError, match="conv2d.*float32 or float64"):
        F.conv2d(x.long(), ranvier.zeros(8, 4, 3, 3).long())
    with pytest.raises(TypeError, match="conv2d.*one dtype"):
        F.conv2d(x, ranvier.zeros(8, 4, 3, 3, dtype=ranvier.float64))
    with pytest.raises(RuntimeError, match=r"conv_transpose2d.*transposed=1.*expected "
                                           r"input\[1, 4, 5, 5\] to have 3 channels"):
        F.conv_transpose2d(x, ranvier.zeros(3, 2, 3, 3))
    with pytest.raises(RuntimeError, match="conv_transpose2d.*output padding must be smaller"):
        F.conv_transpose2d(x, ranvier.zeros(4, 2, 3, 3), stride=2, output_padding=2)
    with pytest.raises(RuntimeError, match=r"im2col\(\): kernel size .* larger than the padded"):
        ranvier._C._im2col(x, (7, 7), (1, 1), (0, 0), (1, 1))
    with pytest.raises(RuntimeError, match=r"col2im\(\): expected input's dimension 2"):
        F.fold(ranvier.zeros(1, 4, 7), (3, 3), 2)


# --- modules ----------------------------------------------------------------------------------

def test_conv2d_module_layout_init_and_forward():
    ranvier.manual_seed(0)
    m = nn.Conv2d(4, 6, (3, 2), stride=2, padding=1, groups=2)
    assert [n for n, _ in m.named_parameters()] == ["weight", "bias"]
    assert tuple(m.weight.shape) == (6, 2, 3, 2) and tuple(m.bias.shape) == (6,)
    bound = 1 / math.sqrt(2 * 3 * 2)
    w = to_np(m.weight)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.5 * bound
    assert np.abs(to_np(m.bias)).max() <= bound
    x = rnd(2, 4, 7, 7, dtype=np.float32)
    assert_close(m(from_np(x)), np_conv2d(x, w, to_np(m.bias), (2, 2), (1, 1), groups=2),
                 rtol=1e-5, atol=1e-5)
    assert repr(m) == "Conv2d(4, 6, kernel_size=(3, 2), stride=(2, 2), padding=(1, 1), groups=2)"
    m2 = nn.Conv1d(3, 8, 3, bias=False, padding_mode="reflect", padding=1)
    assert m2.bias is None and [n for n, _ in m2.named_parameters()] == ["weight"]
    assert repr(m2) == ("Conv1d(3, 8, kernel_size=(3,), stride=(1,), padding=(1,), bias=False, "
                        "padding_mode=reflect)")
    x1 = rnd(2, 3, 6, dtype=np.float32)
    ref = np_conv2d(np.pad(x1, ((0, 0), (0, 0), (1, 1)), mode="reflect")[:, :, None],
                    to_np(m2.weight)[:, :, None])[:, :, 0]
    assert_close(m2(from_np(x1)), ref, rtol=1e-5, atol=1e-5)


def test_conv_transpose_modules():
    m = nn.ConvTranspose2d(4, 8, (3, 5), stride=2, output_padding=1, dilation=2, groups=2)
    assert tuple(m.weight.shape) == (4, 4, 3, 5) and tuple(m.bias.shape) == (8,)
    assert repr(m) == ("ConvTranspose2d(4, 8, kernel_size=(3, 5), stride=(2, 2), dilation=(2, 2),"
                       " output_padding=(1, 1), groups=2)")
    assert np.abs(to_np(m.weight)).max() <= 1 / math.sqrt(4 * 15)
    x = rnd(1, 4, 3, 3, dtype=np.float32)
    ref = np_conv_transpose2d(x, to_np(m.weight), to_np(m.bias), (2, 2), (0, 0), (1, 1), 2,
                              (2, 2))
    assert_close(m(from_np(x)), ref, rtol=1e-5, atol=1e-5)
    m1 = nn.ConvTranspose1d(2, 3, 3, stride=2)
    out = m1(from_np(rnd(1, 2, 4, dtype=np.float32)), output_size=[10])
    assert tuple(out.shape) == (1, 3, 10)
    with pytest.raises(ValueError, match="ConvTranspose1d.*output size"):
        m1(from_np(rnd(1, 2, 4, dtype=np.float32)), output_size=[12])
    with pytest.raises(ValueError, match="zeros.*ConvTranspose2d"):
        nn.ConvTranspose2d(2, 2, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match="Conv2d.*in_channels.*divisible by groups"):
        nn.Conv2d(3, 6, 3, groups=2)


def test_against_torch():
    torch = pytest.importorskip("torch")
    x, wt, b = rnd(2, 4, 9, 8), rnd(6, 2, 3, 2), rnd(6)
    for kw in [dict(stride=2, padding=1, groups=2), dict(padding="same", dilation=2, groups=2)]:
        ref = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(wt), torch.tensor(b), **kw)
        assert_close(F.conv2d(from_np(x), from_np(wt), from_np(b), **kw), ref.numpy(),
                     rtol=1e-10, atol=1e-10)
    wt2 = rnd(4, 3, 3, 2)
    ref = torch.nn.functional.conv_transpose2d(torch.tensor(x), torch.tensor(wt2), None, 2, 1, 1,
                                               2, 2)
    assert_close(F.conv_transpose2d(from_np(x), from_np(wt2), None, 2, 1, 1, 2, 2), ref.numpy(),
                 rtol=1e-10, atol=1e-10)
