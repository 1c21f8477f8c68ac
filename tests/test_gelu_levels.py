"""The exact-form gelu's float32 kernels (kernels/cpu/activation.cpp, and on AVX2 CPUs the
intrinsics of kernels/cpu/gelu_avx2.cpp) against float64 references: values and gradients
within a few 1e-7 of |x| everywhere, the lower tail without cancellation (gelu(-6) is about
-5.9e-9, not 0), NaN and the infinities as PyTorch gives them, lengths that are not multiples
of the 8-float vector (each element's bits independent of where it falls), and thread counts
1-3 giving the same bits, and the derivative a forward keeps for its backward the same bits as
the backward kernel's. The subprocess tests run the same checks under
RANVIER_CPU_CAPABILITY=avx2 and =default, so the portable loop is covered on an AVX2 machine
(and the AVX2 copy on an AVX-512 one)."""
import math

import numpy as np
import pytest

import ranvier
import ranvier.nn.functional as F
from helpers import from_np, run_checks_at_capability, to_np

_erfc = np.vectorize(math.erfc)


def _ref(x):
    """gelu(x) and gelu'(x) in float64 through erfc (accurate in the lower tail)."""
    x = x.astype(np.float64)
    cdf = 0.5 * _erfc(-x / math.sqrt(2))
    return x * cdf, cdf + x * np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)


def _run(x, g=None, threads=None):
    old = ranvier.get_num_threads()
    if threads:
        ranvier.set_num_threads(threads)
    try:
        t = from_np(x, requires_grad=True)
        y = F.gelu(t)
        y.backward(from_np(np.ones_like(x) if g is None else g))
        return to_np(y), to_np(t.grad)
    finally:
        ranvier.set_num_threads(old)


def check_accuracy():
    rng = np.random.default_rng(0)
    x = np.concatenate([np.linspace(-12, 12, 48001), rng.standard_normal(3001) * 4])
    x = x.astype(np.float32)
    y, d = _run(x)
    ry, rd = _ref(x)
    bound = 5e-7 * np.maximum(1.0, np.abs(x))
    assert np.all(np.abs(y - ry) <= bound), np.max(np.abs(y - ry) / bound)
    assert np.all(np.abs(d - rd) <= bound), np.max(np.abs(d - rd) / bound)
    # the lower tail: the right sign and size, where 0.5 x (1 + erf(x / sqrt 2)) gave -0
    tail = (x > -9) & (x < -5.5)
    assert np.all(y[tail] < 0)
    assert np.all(np.abs(y[tail] - ry[tail]) <= 2e-2 * np.abs(ry[tail]))


def check_special_values():
    inf, nan = math.inf, math.nan
    x = np.array([nan, inf, -inf, -40.0, 0.0, -0.0, 40.0], dtype=np.float32)
    y, d = _run(x)
    assert np.isnan(y[0]) and y[1] == inf and np.isnan(y[2])
    assert y[3] == 0 and np.signbit(y[3])  # -40 * 0
    assert y[4] == 0 and not np.signbit(y[4]) and y[5] == 0 and np.signbit(y[5])
    assert y[6] == 40.0
    assert np.isnan(d[0]) and np.isnan(d[1]) and np.isnan(d[2])  # as PyTorch's
    assert d[3] == 0 and d[4] == 0.5 and d[5] == 0.5 and d[6] == 1.0


def check_lengths_and_threads():
    rng = np.random.default_rng(1)
    x = (rng.standard_normal(4099) * 3).astype(np.float32)
    g = rng.standard_normal(x.shape).astype(np.float32)
    y, d = _run(x, g)
    for n in list(range(1, 18)) + [31, 33, 1000]:  # every tail length of a vector
        yn, dn = _run(x[:n], g[:n])
        assert np.array_equal(yn.view(np.uint32), y[:n].view(np.uint32)), n
        assert np.array_equal(dn.view(np.uint32), d[:n].view(np.uint32)), n
    big = (rng.standard_normal(300001) * 3).astype(np.float32)
    gb = rng.standard_normal(big.shape).astype(np.float32)
    runs = [_run(big, gb, threads=t) for t in (1, 2, 3)]
    for yt, dt in runs[1:]:
        assert np.array_equal(yt.view(np.uint32), runs[0][0].view(np.uint32))
        assert np.array_equal(dt.view(np.uint32), runs[0][1].view(np.uint32))


def check_saved_derivative():
    """A contiguous input's forward keeps gelu'(x) for its backward (Note [GELU's saved
    derivative]); a strided one's backward runs the backward kernel on x. Same bits."""
    rng = np.random.default_rng(2)
    x = (rng.standard_normal(4099) * 3).astype(np.float32)
    x[:4] = [math.nan, math.inf, -math.inf, -0.0]
    g = rng.standard_normal(x.shape).astype(np.float32)
    for approx in ("none", "tanh"):
        for dt in (np.float32, np.float64):
            flat = from_np(x.astype(dt), requires_grad=True)
            F.gelu(flat, approximate=approx).backward(from_np(g.astype(dt)))
            wide = from_np(np.stack([x, x], 1).astype(dt), requires_grad=True)
            F.gelu(wide[:, 0], approximate=approx).backward(from_np(g.astype(dt)))
            a, b = to_np(flat.grad), to_np(wide.grad)[:, 0]
            assert np.array_equal(a, b, equal_nan=True), (approx, dt)
            assert np.array_equal(np.signbit(a), np.signbit(b)), (approx, dt)


def run_checks():
    check_accuracy()
    check_special_values()
    check_lengths_and_threads()
    check_saved_derivative()
    print(ranvier.backends.cpu.get_cpu_capability())


def test_accuracy():
    check_accuracy()


def test_special_values():
    check_special_values()


def test_lengths_and_threads():
    check_lengths_and_threads()


def test_saved_derivative_matches_the_backward_kernel():
    check_saved_derivative()


@pytest.mark.parametrize("level", ["avx2", "default"])
def test_capability_levels_in_subprocesses(level):
    run_checks_at_capability(level, "test_gelu_levels")
