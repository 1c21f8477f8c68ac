"""CUDA convolution kernels (skipped without a CUDA device): im2col / col2im against the CPU bit
for bit (col2im gathers in the CPU's order), conv2d and conv_transpose2d forward and backward
(the fused backward kernel) against the CPU for float32 and float64 over odd geometries
(stride, padding, dilation, groups incl. depthwise, 1x1, bias or not, non-contiguous inputs),
and the errors for dtypes the ops do not take. The gradients are taken with .backward(g) of a
given g: CUDA has no reductions yet."""

import numpy as np
import pytest

import ranvier
from helpers import from_np, to_np

_C = ranvier._C
HAS_CUDA = ranvier.cuda.is_available()
pytestmark = pytest.mark.skipif(not HAS_CUDA, reason="no CUDA device")

DTYPES = [ranvier.float32, ranvier.float64]
TOL = {ranvier.float32: 2e-5, ranvier.float64: 1e-12}

# (N, C_in, H, W, C_out, (kh, kw), stride, padding, dilation, groups, bias)
GEOMS = [
    (2, 3, 7, 9, 4, (3, 3), (1, 1), (1, 1), (1, 1), 1, True),
    (1, 1, 5, 5, 2, (2, 3), (2, 1), (0, 2), (1, 1), 1, False),
    (3, 4, 8, 6, 6, (3, 2), (2, 3), (1, 0), (2, 1), 2, True),
    (2, 5, 6, 7, 5, (3, 3), (1, 1), (1, 1), (1, 1), 5, True),   # depthwise
    (2, 6, 4, 5, 3, (1, 1), (1, 1), (0, 0), (1, 1), 1, True),   # pointwise
    (1, 16, 6, 6, 16, (3, 3), (1, 1), (1, 1), (1, 1), 1, False),  # CPU: Winograd
    (9, 2, 3, 3, 3, (3, 3), (1, 1), (2, 2), (2, 2), 1, True),   # output bigger than input
]


def rnd(shape, seed=0):
    return np.random.default_rng(seed).uniform(-1.0, 1.0, size=shape)


def on(a, dtype, device):
    return from_np(a).to(dtype).to(device)


def vals(t):
    return to_np(t.detach().cpu())


def close(a, b, dtype):
    np.testing.assert_allclose(vals(a), vals(b), rtol=TOL[dtype], atol=TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("seed", range(6))
def test_im2col_col2im_bitwise(dtype, seed):
    r = np.random.default_rng(seed)
    n, c = int(r.integers(1, 3)), int(r.integers(1, 4))
    k = (int(r.integers(1, 4)), int(r.integers(1, 4)))
    d = (int(r.integers(1, 3)), int(r.integers(1, 3)))
    p = (int(r.integers(0, 3)), int(r.integers(0, 3)))
    s = (int(r.integers(1, 4)), int(r.integers(1, 4)))
    h = d[0] * (k[0] - 1) + 1 + int(r.integers(0, 6))
    w = d[1] * (k[1] - 1) + 1 + int(r.integers(0, 6))
    x = rnd((n, c, h, w), seed)
    cpu = _C._im2col(on(x, dtype, "cpu"), k, d, p, s)
    xg = on(x, dtype, "cuda")
    gpu = _C._im2col(xg, k, d, p, s)
    np.testing.assert_array_equal(vals(gpu), vals(cpu))
    # non-contiguous input (a transposed view)
    xt = on(np.swapaxes(x, 2, 3).copy(), dtype, "cuda").transpose(2, 3)
    np.testing.assert_array_equal(vals(_C._im2col(xt, k, d, p, s)), vals(cpu))
    cols = rnd(tuple(cpu.shape), seed + 100)
    back_cpu = _C._col2im(on(cols, dtype, "cpu"), (h, w), k, d, p, s)
    back_gpu = _C._col2im(on(cols, dtype, "cuda"), (h, w), k, d, p, s)
    assert back_gpu.is_cuda
    np.testing.assert_array_equal(vals(back_gpu), vals(back_cpu))


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("geom", GEOMS, ids=lambda g: "x".join(map(str, g[:5])))
def test_conv2d_forward_backward(dtype, geom):
    n, ci, h, w, co, k, s, p, d, g, has_bias = geom
    arrays = [rnd((n, ci, h, w)), rnd((co, ci // g) + k, 1), rnd((co,), 2)]

    def run(device):
        x = on(arrays[0], dtype, device).requires_grad_(True)
        wt = on(arrays[1], dtype, device).requires_grad_(True)
        b = on(arrays[2], dtype, device).requires_grad_(True) if has_bias else None
        out = _C._conv2d(x, wt, b, s, p, d, g)
        out.backward(on(rnd(tuple(out.shape), 3), dtype, device))
        grads = [x.grad, wt.grad] + ([b.grad] if has_bias else [])
        return [out] + grads

    cuda, cpu = run("cuda"), run("cpu")
    assert all(t.is_cuda for t in cuda)
    for a, b in zip(cuda, cpu):
        close(a, b, dtype)


# Weights of over a million elements: the weight gradient's per-sample products go through
# scratch a few samples at a time (2, 1 and 2 per batch here), summed in sample order.
BIG_WEIGHT_GEOMS = [
    (3, 330, 4, 4, 512, (3, 3), (1, 1), (1, 1), (1, 1), 1, False),
    (3, 512, 3, 3, 512, (3, 3), (1, 1), (1, 1), (1, 1), 1, True),
    (5, 600, 3, 3, 600, (3, 3), (1, 1), (1, 1), (1, 1), 2, False),
]


@pytest.mark.parametrize("geom", BIG_WEIGHT_GEOMS, ids=lambda g: "x".join(map(str, g[:5])))
def test_conv2d_weight_gradient_of_big_weights(geom):
    n, ci, h, w, co, k, s, p, d, g, has_bias = geom
    arrays = [rnd((n, ci, h, w)), rnd((co, ci // g) + k, 1), rnd((co,), 2)]

    def run(device):
        x = on(arrays[0], ranvier.float32, device).requires_grad_(True)
        wt = on(arrays[1], ranvier.float32, device).requires_grad_(True)
        b = on(arrays[2], ranvier.float32, device).requires_grad_(True) if has_bias else None
        out = _C._conv2d(x, wt, b, s, p, d, g)
        out.backward(on(rnd(tuple(out.shape), 3), ranvier.float32, device))
        return [to_np(t.detach().cpu()) for t in [out, x.grad, wt.grad]]

    # sums of thousands of terms: float32 rounding relative to the largest value
    for name, a, b in zip(("output", "input grad", "weight grad"), run("cuda"), run("cpu")):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5 * np.abs(b).max(), err_msg=name)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("geom", GEOMS[:4], ids=lambda g: "x".join(map(str, g[:5])))
def test_conv_transpose2d_forward_backward(dtype, geom):
    n, ci, h, w, co, k, s, p, d, g, has_bias = geom
    out_pad = (s[0] - 1, 0)
    arrays = [rnd((n, ci, h, w)), rnd((ci, co // g) + k, 1), rnd((co,), 2)]

    def run(device):
        x = on(arrays[0], dtype, device).requires_grad_(True)
        wt = on(arrays[1], dtype, device).requires_grad_(True)
        # the bias takes no gradient here: its gradient is a sum, and CUDA has no reductions yet
        b = on(arrays[2], dtype, device) if has_bias else None
        out = _C._conv_transpose2d(x, wt, b, s, p, out_pad, d, g)
        out.backward(on(rnd(tuple(out.shape), 3), dtype, device))
        return [out, x.grad, wt.grad]

    for a, b in zip(run("cuda"), run("cpu")):
        close(a, b, dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_noncontiguous_and_no_grad(dtype):
    x = on(rnd((2, 3, 9, 8)), dtype, "cuda")[:, :, ::2, 1:]   # strided view
    wt = on(rnd((4, 3, 2, 2), 1), dtype, "cuda").transpose(2, 3)
    b = on(rnd((4,), 2), dtype, "cuda")
    with ranvier.no_grad():
        out = _C._conv2d(x, wt, b, (1, 2), (1, 0), (1, 1), 1)
    ref = _C._conv2d(x.cpu(), wt.cpu(), b.cpu(), (1, 2), (1, 0), (1, 1), 1)
    close(out, ref, dtype)


def test_only_gradient_of_weight():
    # the fused backward with only some outputs wanted
    x = on(rnd((2, 3, 6, 6)), ranvier.float64, "cuda")
    wt = on(rnd((4, 3, 3, 3), 1), ranvier.float64, "cuda").requires_grad_(True)
    gout = rnd((2, 4, 4, 4), 2)
    _C._conv2d(x, wt, None, (1, 1), (0, 0), (1, 1), 1).backward(on(gout, ranvier.float64, "cuda"))
    wc = on(rnd((4, 3, 3, 3), 1), ranvier.float64, "cpu").requires_grad_(True)
    _C._conv2d(x.cpu(), wc, None, (1, 1), (0, 0), (1, 1), 1).backward(
        on(gout, ranvier.float64, "cpu"))
    close(wt.grad, wc.grad, ranvier.float64)


def test_empty_batch():
    x = ranvier.zeros(0, 3, 5, 5, device="cuda")
    wt = on(rnd((2, 3, 3, 3)), ranvier.float32, "cuda")
    out = _C._conv2d(x, wt, None, (1, 1), (0, 0), (1, 1), 1)
    assert tuple(out.shape) == (0, 2, 3, 3) and out.is_cuda


def test_half_conv_runs_through_float32_like_the_cpu():
    # float16 / bfloat16 convolutions compute in float32 on every device (ops/conv2d.cpp)
    x = rnd((2, 3, 6, 5))
    w = rnd((4, 3, 3, 3))
    for dt in (ranvier.float16, ranvier.bfloat16):
        want = _C._conv2d(on(x, dt, "cpu"), on(w, dt, "cpu"), None, (1, 1), (1, 1), (1, 1), 1)
        got = _C._conv2d(on(x, dt, "cuda"), on(w, dt, "cuda"), None, (1, 1), (1, 1), (1, 1), 1)
        assert got.dtype == dt and got.is_cuda
        np.testing.assert_allclose(got.cpu().float().numpy(), want.float().numpy(),
                                   rtol=1e-2, atol=1e-2)


@pytest.mark.parametrize("dtype", [ranvier.float16, ranvier.int64], ids=str)
def test_unsupported_dtypes_raise(dtype):
    x = ranvier.zeros(1, 1, 4, 4, dtype=dtype, device="cuda")
    wt = ranvier.zeros(1, 1, 2, 2, dtype=dtype, device="cuda")
    if dtype == ranvier.int64:
        with pytest.raises(TypeError, match="conv2d.*float32 or float64"):
            _C._conv2d(x, wt, None, (1, 1), (0, 0), (1, 1), 1)
    with pytest.raises(TypeError, match="im2col.*float32 or float64"):
        _C._im2col(x, (2, 2), (1, 1), (0, 0), (1, 1))
