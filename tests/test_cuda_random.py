"""CUDA random kernel against the CPU one (skipped without a usable GPU): the same seed gives
the same numbers on both devices -- bit for bit for rand / uniform_ / randint / bernoulli /
bernoulli_ (what dropout's masks use), float32 and float64, odd sizes, non-contiguous
targets; to a few ulp for randn / normal_ (Note [Random numbers across devices] in
kernels/cuda/random.cuh)."""
import numpy as np
import pytest

import ranvier
from helpers import host_np as host

pytestmark = pytest.mark.skipif(not ranvier.cuda.is_available(), reason="no CUDA device")


def on_both(make, seed=1234):
    out = []
    for dev in ("cpu", "cuda"):
        ranvier.manual_seed(seed)
        t = make(dev)
        assert t.device.type == dev
        out.append(host(t))
    return out


@pytest.mark.parametrize("dtype", [ranvier.float32, ranvier.float64], ids=str)
@pytest.mark.parametrize("n", [1, 3, 1001, 100003])
def test_rand_bitwise(dtype, n):
    cpu, gpu = on_both(lambda d: ranvier.rand(n, dtype=dtype, device=d))
    np.testing.assert_array_equal(gpu, cpu)
    cpu, gpu = on_both(lambda d: ranvier.empty(n, dtype=dtype, device=d).uniform_(-2.5, 7.0))
    np.testing.assert_array_equal(gpu, cpu)


def test_randint_bernoulli_bitwise():
    cpu, gpu = on_both(lambda d: ranvier.randint(-5, 17, (37, 11), device=d))
    np.testing.assert_array_equal(gpu, cpu)
    cpu, gpu = on_both(lambda d: ranvier.randint(0, 10**15, (1001,), device=d))
    np.testing.assert_array_equal(gpu, cpu)
    p = np.linspace(0, 1, 513).astype(np.float32)
    cpu, gpu = on_both(lambda d: ranvier.bernoulli(ranvier.tensor(p).to(d)))
    np.testing.assert_array_equal(gpu, cpu)
    cpu, gpu = on_both(lambda d: ranvier.ones(64, 33, device=d).bernoulli_(0.3))
    np.testing.assert_array_equal(gpu, cpu)


@pytest.mark.parametrize("dtype", [ranvier.float32, ranvier.float64], ids=str)
def test_randn_close(dtype):
    cpu, gpu = on_both(lambda d: ranvier.randn(100003, dtype=dtype, device=d))
    eps = np.finfo(cpu.dtype).eps
    np.testing.assert_allclose(gpu, cpu, rtol=8 * eps, atol=8 * eps)
    # float32 rounds a double-precision Box-Muller, so nearly every value is the CPU's bits;
    # float64 uses the device's own log / sin / cos, which are not correctly rounded (up to
    # 2 ulp): 86% of the values were bitwise equal on an H100
    assert np.mean(gpu == cpu) > (0.95 if dtype == ranvier.float32 else 0.7)
    cpu, gpu = on_both(lambda d: ranvier.empty(999, dtype=dtype, device=d).normal_(3.0, 0.5))
    np.testing.assert_allclose(gpu, cpu, rtol=8 * eps, atol=8 * eps)


def test_noncontiguous_and_zero_size_targets():
    def fill(d):
        t = ranvier.zeros(6, 10, device=d)
        t[:, ::2].uniform_()
        return t
    cpu, gpu = on_both(fill)
    np.testing.assert_array_equal(gpu, cpu)
    cpu, gpu = on_both(lambda d: ranvier.rand(0, 3, device=d))
    assert gpu.shape == (0, 3)


def test_generator_advances_the_same():
    ranvier.manual_seed(7)
    ranvier.rand(10, device="cuda")
    a = host(ranvier.rand(5, device="cuda"))
    ranvier.manual_seed(7)
    ranvier.rand(10)
    b = host(ranvier.rand(5))
    np.testing.assert_array_equal(a, b)
