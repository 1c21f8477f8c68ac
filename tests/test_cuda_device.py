"""CUDA device tests (skipped without a usable GPU): host<->device and device<->device copies
for every dtype, casts and fills on the device, factories with device="cuda", the first
elementwise kernels against NumPy, mixed-device errors, autograd through moves, and the caching
allocator's statistics and out-of-memory message."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import ranvier
from helpers import NP_DTYPES, broadcastable_pair, from_np, rand_np, shapes

pytestmark = pytest.mark.skipif(not ranvier.cuda.is_available(), reason="no CUDA device")

ALL_DTYPES = [ranvier.float32, ranvier.float64, ranvier.float16, ranvier.bfloat16,
              ranvier.int64, ranvier.int32, ranvier.uint8, ranvier.bool]


def host(t):
    """NumPy copy of a tensor on any device (bfloat16 through float32)."""
    t = t.detach().cpu()
    if t.dtype == ranvier.bfloat16:
        t = t.float()
    return np.array(t.numpy(), copy=True)


def test_no_reason_left_when_available():
    # the "why not" message is for when CUDA cannot be used; a loaded library clears it
    assert ranvier.cuda._reason == ""


def np_of(dtype, shape, seed=0, low=-2.0):
    npd = NP_DTYPES.get(dtype, np.float32)  # bfloat16 data starts as float32
    return rand_np(shape, npd, rng=np.random.default_rng(seed), low=low)


def make(a, dtype):
    return from_np(a).to(dtype)


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
@given(shape=shapes(max_dims=3))
def test_round_trip(dtype, shape):
    a = np_of(dtype, shape)
    t = make(a, dtype)
    c = t.cuda()
    assert c.device == ranvier.device("cuda:0") and c.is_cuda and c.dtype == dtype
    assert tuple(c.shape) == tuple(shape)
    back = c.cpu()
    assert back.device.type == "cpu"
    np.testing.assert_array_equal(host(back), host(t))
    # device -> device copy
    d = c.clone()
    np.testing.assert_array_equal(host(d), host(t))


@pytest.mark.parametrize("dtype", [ranvier.float32, ranvier.int64, ranvier.float16], ids=str)
def test_noncontiguous_both_ways(dtype):
    a = np_of(dtype, (4, 6))
    t = make(a, dtype)
    src = t[:, ::2]  # non-contiguous CPU source
    np.testing.assert_array_equal(host(src.cuda()), host(t)[:, ::2])
    c = t.cuda()
    np.testing.assert_array_equal(host(c.t()), host(t).T)  # non-contiguous CUDA source
    np.testing.assert_array_equal(host(c[1:, 1::2]), host(t)[1:, 1::2])
    # non-contiguous CUDA destination, CPU source with broadcasting
    dst = ranvier.zeros(4, 6, dtype=dtype, device="cuda")
    row = make(np_of(dtype, (3,), seed=1), dtype)
    dst[:, ::2].copy_(row)
    exp = np.zeros((4, 6), dtype=host(t).dtype)
    exp[:, ::2] = host(row)
    np.testing.assert_array_equal(host(dst), exp)
    # contiguous views with an offset, both directions
    dst[2].copy_(make(np_of(dtype, (6,), seed=2), dtype))
    exp[2] = host(make(np_of(dtype, (6,), seed=2), dtype))
    np.testing.assert_array_equal(host(dst), exp)
    np.testing.assert_array_equal(host(dst[3]), exp[3])


@pytest.mark.parametrize("src", ALL_DTYPES, ids=str)
@pytest.mark.parametrize("dst", ALL_DTYPES, ids=str)
def test_cast_on_device(src, dst):
    # negative floats into uint8 are undefined in C++ (CPU and GPU differ): keep them >= 0
    a = np_of(src, (3, 5), low=0.0 if dst == ranvier.uint8 else -2.0)
    c = make(a, src).cuda()
    got = c.to(dst)
    assert got.is_cuda and got.dtype == dst
    exp = make(a, src).to(dst)  # the CPU cast is the reference
    np.testing.assert_array_equal(host(got), host(exp))


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
def test_factories_and_fill(dtype):
    z = ranvier.zeros(2, 3, dtype=dtype, device="cuda")
    assert z.is_cuda
    np.testing.assert_array_equal(host(z), np.zeros((2, 3)).astype(host(z).dtype))
    o = ranvier.ones(4, dtype=dtype, device="cuda")
    np.testing.assert_array_equal(host(o), np.ones(4).astype(host(o).dtype))
    f = ranvier.full((2, 2), 3, dtype=dtype, device="cuda")
    np.testing.assert_array_equal(host(f), np.full((2, 2), 3).astype(host(f).dtype))
    v = ranvier.zeros(3, 4, dtype=dtype, device="cuda")
    v[:, 1].fill_(1)
    exp = np.zeros((3, 4))
    exp[:, 1] = 1
    np.testing.assert_array_equal(host(v), exp.astype(host(v).dtype))


def test_tensor_and_arange_on_cuda():
    t = ranvier.tensor([[1.5, 2.0], [3.0, -4.0]], device="cuda")
    assert t.is_cuda
    np.testing.assert_array_equal(host(t), np.array([[1.5, 2.0], [3.0, -4.0]], np.float32))
    r = ranvier.arange(5, device="cuda")
    assert r.is_cuda and r.dtype == ranvier.int64
    np.testing.assert_array_equal(host(r), np.arange(5))
    e = ranvier.empty(0, 3, device="cuda")
    assert tuple(e.cpu().shape) == (0, 3)


BINARY = [("add", np.add), ("sub", np.subtract), ("mul", np.multiply), ("div", np.divide),
          ("minimum", np.minimum), ("maximum", np.maximum)]


@pytest.mark.parametrize("name,ref", BINARY)
@pytest.mark.parametrize("dtype", [ranvier.float32, ranvier.float64], ids=str)
@given(pair=broadcastable_pair())
def test_binary_vs_numpy(name, ref, dtype, pair):
    sa, sb = pair
    npd = NP_DTYPES[dtype]
    a = rand_np(sa, npd, rng=np.random.default_rng(1))
    b = rand_np(sb, npd, rng=np.random.default_rng(2), low=0.5, high=2.0)
    ta, tb = from_np(a).to(dtype).cuda(), from_np(b).to(dtype).cuda()
    got = getattr(ranvier, name)(ta, tb)
    assert got.is_cuda and got.dtype == dtype
    np.testing.assert_allclose(host(got), ref(a, b), rtol=1e-6, atol=1e-6)


def test_binary_noncontiguous_scalars_and_inplace():
    a = rand_np((5, 8), np.float32)
    b = rand_np((8, 5), np.float32, rng=np.random.default_rng(3))
    ta, tb = from_np(a).cuda(), from_np(b).cuda()
    np.testing.assert_allclose(host(ta[:, ::2] * tb.t()[:, ::2]), a[:, ::2] * b.T[:, ::2],
                               rtol=1e-6)
    np.testing.assert_allclose(host(ta + 2.5), a + np.float32(2.5), rtol=1e-6)
    np.testing.assert_allclose(host(3.0 - ta), np.float32(3.0) - a, rtol=1e-6)
    # a 0-d CPU tensor may join a CUDA op (Note [CPU scalar operand])
    s = ranvier.tensor(2.0)
    np.testing.assert_allclose(host(ta * s), a * np.float32(2.0), rtol=1e-6)
    np.testing.assert_allclose(host(s / ta), np.float32(2.0) / a, rtol=1e-6)
    ta.add_(tb.t())
    np.testing.assert_allclose(host(ta), a + b.T, rtol=1e-6)
    z = ranvier.zeros(0, 3, device="cuda")
    assert tuple((z + z).shape) == (0, 3)


def test_float16_goes_through_float32():
    a = rand_np((6,), np.float16)
    t = from_np(a).cuda()
    got = t + t
    assert got.dtype == ranvier.float16
    np.testing.assert_allclose(host(got), (a + a).astype(np.float16), rtol=1e-3)


UNARY = [("neg", np.negative), ("exp", np.exp), ("relu", lambda x: np.maximum(x, 0)),
         ("abs", np.abs), ("sqrt", lambda x: np.sqrt(np.abs(x))), ("tanh", np.tanh),
         ("sigmoid", lambda x: 1 / (1 + np.exp(-x))), ("sin", np.sin), ("cos", np.cos),
         ("log", lambda x: np.log(np.abs(x) + 0.5))]


@pytest.mark.parametrize("name,ref", UNARY)
@given(shape=shapes(max_dims=3))
def test_unary_vs_numpy(name, ref, shape):
    a = rand_np(shape, np.float32)
    if name == "sqrt":
        a = np.abs(a)
    if name == "log":
        a = np.abs(a) + np.float32(0.5)
    fn = getattr(ranvier, name, None) or getattr(ranvier.nn.functional, name)
    got = fn(from_np(a).cuda())
    assert got.is_cuda
    exp = ref(a) if name not in ("sqrt", "log") else (np.sqrt(a) if name == "sqrt" else np.log(a))
    np.testing.assert_allclose(host(got), exp.astype(np.float32), rtol=2e-6, atol=1e-6)


def test_mixed_devices_error_names_both():
    c = ranvier.ones(3, device="cuda")
    p = ranvier.ones(3)
    with pytest.raises(RuntimeError, match=r"cuda:0.*cpu|cpu.*cuda:0"):
        c + p
    with pytest.raises(RuntimeError, match=r"cuda:0.*cpu|cpu.*cuda:0"):
        c.mul_(p)


def test_op_without_cuda_kernel_is_not_implemented():
    if dict((n, cuda) for n, _, cuda in ranvier._C._kernel_slots())["reduce"]:
        pytest.skip("the reduce slot has a CUDA kernel")
    c = ranvier.ones(2, 2, device="cuda")
    with pytest.raises(NotImplementedError, match="sum has no CUDA kernel"):
        ranvier.sum(c)


def test_autograd_through_moves():
    a = rand_np((3, 4), np.float64)
    x = from_np(a, requires_grad=True)
    xc = x.cuda()
    y = (xc * xc + xc).cpu().sum()
    y.backward()
    np.testing.assert_allclose(host(x.grad), 2 * a + 1, rtol=1e-12)
    assert x.grad.device.type == "cpu"


def test_host_readers():
    c = ranvier.tensor([1.5, -2.0], device="cuda")
    assert c[0].item() == 1.5
    assert c.tolist() == [1.5, -2.0]
    assert "device='cuda:0'" in repr(c)
    with pytest.raises(TypeError, match="cpu"):
        c.numpy()


def test_device_functions():
    assert ranvier.cuda.device_count() >= 1
    assert ranvier.cuda.current_device() == 0
    ranvier.cuda.set_device(0)
    ranvier.cuda.synchronize()
    with pytest.raises(RuntimeError, match="invalid device ordinal"):
        ranvier.cuda.set_device(ranvier.cuda.device_count())


def test_allocator_stats():
    ranvier.cuda.synchronize()
    ranvier.cuda.empty_cache()
    base = ranvier.cuda.memory_allocated()
    ranvier.cuda.reset_peak_memory_stats()
    t = ranvier.empty(1000, device="cuda")  # 4000 bytes -> 4096 (512-byte rounding)
    assert ranvier.cuda.memory_allocated() == base + 4096
    big = ranvier.empty(3 << 20, dtype=ranvier.uint8, device="cuda")  # 3 MiB, own segment
    assert ranvier.cuda.memory_allocated() == base + 4096 + (3 << 20)
    assert ranvier.cuda.memory_reserved() >= ranvier.cuda.memory_allocated()
    peak = ranvier.cuda.max_memory_allocated()
    assert peak == base + 4096 + (3 << 20)
    del big
    assert ranvier.cuda.memory_allocated() == base + 4096
    reserved = ranvier.cuda.memory_reserved()
    again = ranvier.empty(3 << 20, dtype=ranvier.uint8, device="cuda")  # from the cache
    assert ranvier.cuda.memory_reserved() == reserved
    del again
    ranvier.cuda.empty_cache()
    assert ranvier.cuda.memory_reserved() < reserved
    assert ranvier.cuda.max_memory_allocated() == peak
    ranvier.cuda.reset_peak_memory_stats()
    assert ranvier.cuda.max_memory_allocated() == ranvier.cuda.memory_allocated()
    del t
    assert ranvier.cuda.memory_allocated() == base


def test_out_of_memory_message():
    with pytest.raises(RuntimeError, match=r"CUDA out of memory.*tried to allocate .*allocated"
                                           r".*reserved.*free"):
        ranvier.empty(1 << 50, dtype=ranvier.uint8, device="cuda")
    t = ranvier.ones(4, device="cuda")  # still usable afterwards
    assert host(t + t).tolist() == [2.0] * 4


@pytest.mark.skipif("fake_cuda" not in ranvier.cuda._library_path(),
                    reason="checks the stand-in backend's memory guard")
def test_stand_in_faults_on_host_access_to_device_memory():
    # The stand-in (csrc/cuda/test/fake_cuda_backend.cpp) keeps device memory unreadable outside
    # kernel calls, so that host code touching CUDA memory crashes in CI instead of passing.
    import os
    import subprocess
    import sys
    code = ("import ctypes, ranvier\n"
            "t = ranvier.arange(4.0, device='cuda') * 2\n"
            "print('kernel ok', t.cpu().tolist(), flush=True)\n"
            "ctypes.c_float.from_address(t.data_ptr()).value\n"
            "print('host read did not fault', flush=True)\n")
    r = subprocess.run([sys.executable, "-X", "faulthandler", "-c", code], capture_output=True,
                       text=True, timeout=120, env=dict(os.environ))
    assert "kernel ok [0.0, 2.0, 4.0, 6.0]" in r.stdout, r.stderr
    assert "host read did not fault" not in r.stdout
    assert r.returncode != 0
    assert "CUDA memory touched outside a kernel" in r.stderr
    assert "Segmentation fault" in r.stderr  # faulthandler's Python stack follows
