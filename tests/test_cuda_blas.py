"""CUDA matrix products (cuBLAS gemm_kernel) and the float32 matmul precision switches.

GPU part (skipped without a CUDA device): matmul / mm / bmm / addmm / mv / dot / outer /
linear on CUDA against NumPy in float64, for float32 (TF32 off and on), float64, float16 and
bfloat16, with odd sizes, transposed and non-contiguous operands, broadcast batch dims, k = 0
and empty batches; gradients against the same products on the CPU; the errors for dtypes CUDA
does not take. CPU part (always): the Python flags' defaults, types and errors, the CPU
half-precision products, and the loader's behaviour without cuBLAS (simulated)."""
import ctypes
import os
import re

import numpy as np
import pytest

import ranvier
from helpers import from_np, to_np

HAS_CUDA = ranvier.cuda.is_available()
cuda_only = pytest.mark.skipif(not HAS_CUDA, reason="no CUDA device")
# the stand-in backend of .ci/cuda_build_check runs the CPU kernels in the CUDA slots: tests of
# what only the real kernels do (TF32, dtypes they refuse) skip there
STAND_IN = "fake" in os.path.basename(os.environ.get("RANVIER_CUDA_LIBRARY", ""))
real_kernels_only = pytest.mark.skipif(not HAS_CUDA or STAND_IN,
                                       reason="needs the real CUDA kernels")

FLOATS = [ranvier.float32, ranvier.float64, ranvier.float16, ranvier.bfloat16]
# (rtol, atol) of a product of values in [-1, 1] against float64, per dtype; k up to ~70
TOL = {ranvier.float32: (1e-5, 1e-5), ranvier.float64: (1e-12, 1e-12),
       ranvier.float16: (1e-2, 5e-2), ranvier.bfloat16: (2e-2, 3e-1)}


@pytest.fixture(autouse=True)
def _restore_precision():
    before = ranvier.get_float32_matmul_precision()
    yield
    ranvier.set_float32_matmul_precision(before)


def rnd(shape, seed=0):
    return np.random.default_rng(seed).uniform(-1.0, 1.0, size=shape)


def on(a, dtype, device="cuda"):
    """A tensor of dtype on device from a float64 array (the rounded values are the input)."""
    return from_np(a).to(dtype).to(device)


def vals(t):
    """float64 NumPy copy of a tensor on any device."""
    return to_np(t.detach().cpu().to(ranvier.float64))


def check(out, expected, dtype):
    rtol, atol = TOL[dtype]
    assert out.device.type == "cuda" and out.dtype == dtype
    assert tuple(out.shape) == tuple(np.shape(expected))
    np.testing.assert_allclose(vals(out), expected, rtol=rtol, atol=atol)


# ---------------------------------------------------------------- GPU: forward

@cuda_only
@pytest.mark.parametrize("dtype", FLOATS, ids=str)
@pytest.mark.parametrize("m,k,n", [(1, 1, 1), (7, 13, 5), (33, 65, 17), (1, 70, 3), (64, 1, 9)])
def test_mm_odd_sizes(dtype, m, k, n):
    a, b = on(rnd((m, k)), dtype), on(rnd((k, n), 1), dtype)
    check(ranvier.mm(a, b), vals(a) @ vals(b), dtype)


@cuda_only
@pytest.mark.parametrize("dtype", FLOATS, ids=str)
def test_transposed_and_strided_operands(dtype):
    big_a, big_b = on(rnd((12, 20)), dtype), on(rnd((20, 30), 1), dtype)
    cases = [
        (big_a[:, :9].t(), big_b[:12, :7]),        # transposed view (row stride 1) x slice
        (big_a[:5, :20], big_b.t()[:20, :5]),     # row-major slice x transposed
        (big_a[::2, ::3], big_b[:7, ::4]),        # no unit stride: packed copies
        (big_a[:4, 3:4].expand(4, 6), big_b[:6, :5]),  # stride 0 inside a matrix
    ]
    for a, b in cases:
        check(a @ b, vals(a) @ vals(b), dtype)


@cuda_only
@pytest.mark.parametrize("dtype", FLOATS, ids=str)
def test_batched_and_broadcast(dtype):
    a = on(rnd((2, 1, 5, 7)), dtype)
    b = on(rnd((3, 7, 4), 1), dtype)
    check(a @ b, vals(a) @ vals(b), dtype)          # batch [2, 3]: a broadcast over dim 1
    c, d = on(rnd((4, 7, 6), 2), dtype), on(rnd((4, 7, 3), 3), dtype)
    check(ranvier.bmm(c.transpose(1, 2), d), np.transpose(vals(c), (0, 2, 1)) @ vals(d), dtype)
    # a batch of transposed matrices whose batch strides are not one stride: gathered
    base = on(rnd((3, 4, 8, 5)), dtype)
    x = base.transpose(0, 1)[:, :, :, :4]            # [4, 3, 8, 4], batch strides 160, 640
    y = on(rnd((4, 8), 4), dtype)
    check(x @ y.t()[:4, :], vals(x) @ vals(y.t()[:4, :]), dtype)
    # 1-D operands
    v = on(rnd((7,), 5), dtype)
    check(a @ v, vals(a) @ vals(v), dtype)
    check(v @ b, vals(v) @ vals(b), dtype)


@cuda_only
@pytest.mark.parametrize("dtype", FLOATS, ids=str)
def test_addmm_mv_dot_outer_linear(dtype):
    inp, m1, m2 = on(rnd((5,)), dtype), on(rnd((4, 6), 1), dtype), on(rnd((6, 5), 2), dtype)
    out = ranvier.addmm(inp, m1, m2, beta=0.5, alpha=-2.0)
    check(out, 0.5 * vals(inp) - 2.0 * (vals(m1) @ vals(m2)), dtype)
    check(ranvier.addmm(inp, m1, m2, beta=0), vals(m1) @ vals(m2), dtype)
    v = on(rnd((6,), 3), dtype)
    check(ranvier.mv(m1, v), vals(m1) @ vals(v), dtype)
    check(ranvier.dot(v, v), np.dot(vals(v), vals(v)), dtype)
    check(ranvier.outer(v, inp), np.outer(vals(v), vals(inp)), dtype)
    w, bias = on(rnd((3, 6), 4), dtype), on(rnd((3,), 5), dtype)
    x = on(rnd((2, 4, 6), 6), dtype)
    check(ranvier.nn.functional.linear(x, w, bias), vals(x) @ vals(w).T + vals(bias), dtype)


@cuda_only
@pytest.mark.parametrize("dtype", FLOATS, ids=str)
def test_empty_and_k0(dtype):
    a, b = on(np.zeros((3, 0)), dtype), on(np.zeros((0, 4)), dtype)
    check(a @ b, np.zeros((3, 4)), dtype)            # k = 0: zeros
    inp = on(rnd((3, 4)), dtype)
    check(ranvier.addmm(inp, a, b, beta=2.0), 2.0 * vals(inp), dtype)  # k = 0: beta * input
    e = on(np.zeros((0, 3, 5)), dtype) @ on(rnd((5, 2)), dtype)
    assert tuple(e.shape) == (0, 3, 2) and e.is_cuda


@real_kernels_only
def test_tf32_flag_reaches_the_kernel():
    a, b = on(rnd((256, 512)), ranvier.float32), on(rnd((512, 256), 1), ranvier.float32)
    exact = vals(a) @ vals(b)
    ranvier.backends.cuda.matmul.allow_tf32 = False
    full = vals(a @ b)
    np.testing.assert_allclose(full, exact, rtol=1e-5, atol=1e-4)
    ranvier.backends.cuda.matmul.allow_tf32 = True
    tf32 = vals(a @ b)
    np.testing.assert_allclose(tf32, exact, rtol=2e-2, atol=5e-2)
    # TF32 rounds the inputs to 10 mantissa bits: the product is visibly less exact
    assert np.abs(tf32 - exact).max() > 10 * np.abs(full - exact).max()
    ranvier.set_float32_matmul_precision("medium")  # bfloat16-based tensor cores
    np.testing.assert_allclose(vals(a @ b), exact, rtol=5e-2, atol=3e-1)
    # float64 never uses reduced precision
    a64, b64 = a.double(), b.double()
    np.testing.assert_allclose(vals(a64 @ b64), exact, rtol=1e-12, atol=1e-10)


@real_kernels_only
@pytest.mark.parametrize("dtype", [ranvier.int64, ranvier.int32, ranvier.uint8], ids=str)
def test_integer_dtypes_raise(dtype):
    a = ranvier.ones(3, 3, dtype=dtype, device="cuda")
    with pytest.raises(NotImplementedError, match="matmul"):
        a @ a


# ---------------------------------------------------------------- GPU: backward

@cuda_only
@pytest.mark.parametrize("dtype", [ranvier.float32, ranvier.float64], ids=str)
def test_gradients_match_cpu(dtype):
    # (no reductions: CUDA has none yet, so no .sum() and no broadcast batch dims here)
    rtol = 1e-5 if dtype == ranvier.float32 else 1e-12
    arrays = [rnd((3, 5, 7)), rnd((3, 7, 4), 1), rnd((3, 5, 4), 2), rnd((6, 7), 3),
              rnd((2, 5, 6), 4)]

    def run(device):
        a = on(arrays[0], dtype, device).requires_grad_(True)
        b = on(arrays[1], dtype, device).requires_grad_(True)
        b_t = b.transpose(1, 2).contiguous().transpose(1, 2)  # column-major matrices
        ((a @ b_t) * 1.5).backward(on(arrays[2], dtype, device))
        w = on(arrays[3], dtype, device).requires_grad_(True)
        x = on(arrays[0][:2], dtype, device).requires_grad_(True)
        ranvier.nn.functional.linear(x, w).backward(on(arrays[4], dtype, device))
        m = on(arrays[3][:5, :5], dtype, device).requires_grad_(True)
        ranvier.mm(m.t(), m).backward(on(arrays[4][0, :, :5], dtype, device))
        return [vals(t.grad) for t in (a, b, w, x, m)]

    for got, want in zip(run("cuda"), run("cpu")):
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol)


# ---------------------------------------------------------------- CPU: flags and loader

def test_precision_defaults_and_setting():
    assert ranvier.get_float32_matmul_precision() == "highest"
    assert ranvier.backends.cuda.matmul.allow_tf32 is False
    ranvier.set_float32_matmul_precision("high")
    assert ranvier.get_float32_matmul_precision() == "high"
    assert ranvier.backends.cuda.matmul.allow_tf32 is True
    assert ranvier._C._get_float32_matmul_precision() == 1  # the core holds the setting
    ranvier.set_float32_matmul_precision("medium")
    assert ranvier.backends.cuda.matmul.allow_tf32 is True
    assert ranvier._C._get_float32_matmul_precision() == 2
    ranvier.backends.cuda.matmul.allow_tf32 = False
    assert ranvier.get_float32_matmul_precision() == "highest"
    assert ranvier._C._get_float32_matmul_precision() == 0
    ranvier.backends.cuda.matmul.allow_tf32 = True
    assert ranvier.get_float32_matmul_precision() == "high"
    assert ranvier.backends.set_float32_matmul_precision is ranvier.set_float32_matmul_precision


def test_precision_errors():
    # PyTorch's behaviour: an unknown string warns and changes nothing; other types raise
    with pytest.warns(UserWarning, match="low is not one of 'highest', 'high', or 'medium'"):
        ranvier.set_float32_matmul_precision("low")
    with pytest.warns(UserWarning, match="HIGH"):
        ranvier.set_float32_matmul_precision("HIGH")
    with pytest.raises(RuntimeError, match="set_float32_matmul_precision expects a str.*int"):
        ranvier.set_float32_matmul_precision(1)
    with pytest.raises(RuntimeError, match="allow_tf32 expects a bool, but got int"):
        ranvier.backends.cuda.matmul.allow_tf32 = 1
    with pytest.raises(AttributeError, match="Unknown attribute allow_fp16"):
        ranvier.backends.cuda.matmul.allow_fp16 = True
    assert ranvier.get_float32_matmul_precision() == "highest"  # nothing changed
    ranvier.set_float32_matmul_precision("high")
    with pytest.warns(UserWarning):
        ranvier.set_float32_matmul_precision("")
    assert ranvier.get_float32_matmul_precision() == "high"


def test_precision_does_not_change_cpu_results():
    a, b = from_np(rnd((40, 50)).astype(np.float32)), from_np(rnd((50, 30), 1).astype(np.float32))
    ref = to_np(a @ b)
    ranvier.set_float32_matmul_precision("medium")
    np.testing.assert_array_equal(to_np(a @ b), ref)


@pytest.mark.parametrize("dtype", [ranvier.float16, ranvier.bfloat16], ids=str)
def test_cpu_half_matmul(dtype):
    # the CPU computes half-precision products in float32 and rounds the result
    a, b = on(rnd((2, 5, 9)), dtype, "cpu"), on(rnd((9, 4), 1), dtype, "cpu")
    out = a @ b
    assert out.dtype == dtype and tuple(out.shape) == (2, 5, 4)
    np.testing.assert_allclose(vals(out), vals(a) @ vals(b), rtol=TOL[dtype][0],
                               atol=TOL[dtype][1])


@pytest.fixture
def fresh_loader(monkeypatch, tmp_path):
    """ranvier.cuda with its load state reset and a library file that exists (monkeypatched
    loading decides what happens); the real state comes back after the test."""
    cuda = ranvier.cuda
    lib = tmp_path / "libranvier_cuda.so"
    lib.write_bytes(b"")
    monkeypatch.setenv("RANVIER_CUDA_LIBRARY", str(lib))
    for name, value in (("_tried", False), ("_lib", None), ("_count", 0)):
        monkeypatch.setattr(cuda, name, value)
    monkeypatch.setattr(cuda, "_reason", "unset")
    return cuda


def test_missing_cublas_gives_a_reason(fresh_loader, monkeypatch):
    cuda = fresh_loader

    def no_cublas(path, *args, **kwargs):
        raise OSError("libcublas.so.13: cannot open shared object file: No such file or directory")

    monkeypatch.setattr(cuda, "_cublas_dirs", lambda: [])
    monkeypatch.setattr(ctypes, "CDLL", no_cublas)
    assert cuda.is_available() is False
    assert cuda.device_count() == 0
    assert "nvidia-cublas" in cuda._reason and "libcublas.so.13" in cuda._reason
    with pytest.raises(RuntimeError, match="cuBLAS"):
        cuda.synchronize()
    assert cuda.memory_allocated() == 0


def test_preload_reports_a_broken_wheel(fresh_loader, monkeypatch, tmp_path):
    cuda = fresh_loader
    wheel = tmp_path / "cu13" / "lib"
    wheel.mkdir(parents=True)
    monkeypatch.setattr(cuda, "_cublas_dirs", lambda: [str(wheel)])
    assert cuda._preload_cublas() is None           # no files: nothing to preload
    for name in ("libcublasLt.so.13", "libcublas.so.13"):
        (wheel / name).write_bytes(b"not a library")
    err = cuda._preload_cublas()
    assert err is not None and "libcublas" in err
    # then the library's own load fails too, and the reason names cuBLAS
    monkeypatch.setattr(ctypes, "CDLL", lambda *a, **k: (_ for _ in ()).throw(OSError("x")))
    assert cuda.is_available() is False
    assert "cuBLAS" in cuda._reason and "libcublas" in cuda._reason


def test_other_load_errors_keep_their_reason():
    reason = ranvier.cuda._load_error_reason(OSError("undefined symbol: foo"), None)
    assert "could not be loaded" in reason and "foo" in reason and "cuBLAS" not in reason


def test_cpu_install_needs_no_nvidia_wheel():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    text = open(os.path.join(root, "pyproject.toml")).read()
    deps = re.search(r"^dependencies = \[(.*?)\]", text, re.M | re.S).group(1)
    build = re.search(r"^requires = \[(.*?)\]", text, re.M | re.S).group(1)
    assert "nvidia" not in deps and "nvidia" not in build
    cuda_extra = re.search(r"^cuda = \[(.*?)\]", text, re.M).group(1)
    assert re.search(r'"nvidia-cublas==[0-9.]+"', cuda_extra)
