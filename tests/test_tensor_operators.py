"""The + - * / operators of Tensor (served by number slots, python/fast_operators.cpp, with the
bound methods behind them for everything else): every operand kind, on either side, checked
against NumPy, plus identity, autograd, subclasses and the errors."""
import numpy as np
import pytest

import ranvier
from ranvier.nn import Parameter

OPS = {
    "+": (lambda a, b: a + b),
    "-": (lambda a, b: a - b),
    "*": (lambda a, b: a * b),
    "/": (lambda a, b: a / b),
}


def _np(t):
    return np.asarray(t.detach())


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("dtype", [ranvier.float32, ranvier.float64, ranvier.int64, ranvier.int32])
def test_tensor_tensor(op, dtype):
    rng = np.random.default_rng(0)
    a = rng.integers(1, 9, size=(3, 4)).astype(np.float64)
    b = rng.integers(1, 9, size=(3, 4)).astype(np.float64)
    ta = ranvier.tensor(a, dtype=dtype)
    tb = ranvier.tensor(b, dtype=dtype)
    npd = np.asarray(ta).dtype
    want = OPS[op](a.astype(npd), b.astype(npd))
    got = OPS[op](ta, tb)
    if op == "/" and not dtype.is_floating_point:
        assert got.dtype == ranvier.float32  # true division of integers gives float32
    else:
        assert got.dtype == dtype
    np.testing.assert_allclose(_np(got), want, rtol=1e-6)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("number", [2.5, -3, 7, 0.5])
def test_tensor_number_both_sides(op, number):
    a = np.array([[1.5, -2.0, 4.0], [8.0, 3.0, -1.0]], dtype=np.float32)
    t = ranvier.tensor(a)
    np.testing.assert_allclose(_np(OPS[op](t, number)), OPS[op](a, np.float32(number)), rtol=1e-6)
    np.testing.assert_allclose(_np(OPS[op](number, t)), OPS[op](np.float32(number), a), rtol=1e-6)


def test_number_promotion_matches_the_bound_methods():
    i = ranvier.tensor([1, 2, 3])
    assert (i + 2).dtype == ranvier.int64
    assert (i + 2.5).dtype == ranvier.float32
    assert (2.5 * i).dtype == ranvier.float32
    # bools go through the bound methods
    assert (i + True).dtype == ranvier.int64
    np.testing.assert_array_equal(_np(True * i), [1, 2, 3])
    with pytest.raises(RuntimeError, match="bool"):
        i - True
    np.testing.assert_allclose(_np(1 / i), [1.0, 0.5, 1 / 3], rtol=1e-6)
    h = ranvier.tensor([1.0, 2.0], dtype=ranvier.float16)
    assert (h * 3.0).dtype == ranvier.float16
    np.testing.assert_array_equal(_np(h * 3.0).astype(np.float32), [3.0, 6.0])


def test_numpy_scalars_and_large_ints():
    t = ranvier.tensor([1.0, 2.0])
    np.testing.assert_allclose(_np(t + np.float32(1.5)), [2.5, 3.5])
    np.testing.assert_allclose(_np(np.float64(2.0) * t), [2.0, 4.0])
    with pytest.raises(RuntimeError, match="overflow"):
        ranvier.tensor([1, 2]) + 2 ** 70


def test_broadcasting_and_noncontiguous():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    b = np.arange(4, dtype=np.float32) + 1
    ta, tb = ranvier.tensor(a), ranvier.tensor(b)
    np.testing.assert_allclose(_np(ta - tb), a - b)
    np.testing.assert_allclose(_np(ta.t() * ta.t()), (a.T * a.T))
    np.testing.assert_allclose(_np(ta[:, ::2] / 2), a[:, ::2] / 2)


def test_subclass_operands():
    p = Parameter(ranvier.tensor([1.0, 2.0]))
    t = ranvier.tensor([10.0, 20.0])
    for got, want in [(p + t, [11, 22]), (t - p, [9, 18]), (p * 2, [2, 4]), (3 / p, [3, 1.5])]:
        assert type(got) is ranvier.Tensor
        np.testing.assert_allclose(_np(got), want)


def test_autograd_through_operators():
    x = ranvier.tensor([1.0, 2.0, 4.0], requires_grad=True)
    y = ranvier.tensor([3.0, 5.0, 7.0], requires_grad=True)
    ((x * y + x / y - 2.0 * x) - 1).sum().backward()
    xv, yv = np.array([1.0, 2.0, 4.0]), np.array([3.0, 5.0, 7.0])
    np.testing.assert_allclose(_np(x.grad), yv + 1 / yv - 2, rtol=1e-6)
    np.testing.assert_allclose(_np(y.grad), xv - xv / yv ** 2, rtol=1e-6)


def test_in_place_operators_keep_identity():
    t = ranvier.tensor([1.0, 2.0])
    before = t
    t += ranvier.tensor([1.0, 1.0])
    t *= 2
    assert t is before
    np.testing.assert_allclose(_np(t), [4.0, 6.0])


def test_results_are_ordinary_tensors():
    # The slots build their result objects by hand: each must be a registered, owning Tensor
    # like any other (in-place methods hand back the same object, weak references work, the
    # object dies with its last reference and frees nothing its operands still use).
    import gc
    import sys
    import weakref

    a, b = ranvier.tensor([1.0, 2.0]), ranvier.tensor([3.0, 5.0])
    for f in OPS.values():
        r = f(a, b)
        assert type(r) is ranvier.Tensor
        assert sys.getrefcount(r) == 2  # r and getrefcount's argument
        assert r.add_(1.0) is r
        assert r.mul_(ranvier.ones(2)) is r
        assert r.requires_grad_() is r
        w = weakref.ref(r)
        del r
        assert w() is None
    c = a + b
    del a, b
    gc.collect()
    np.testing.assert_allclose(_np(c), [4.0, 7.0])
    before = ranvier.cpu.memory_allocated()
    big = ranvier.ones(1 << 16)
    for _ in range(50):
        big + big  # each result freed at once
    assert ranvier.cpu.memory_allocated() == before + 4 * (1 << 16)
    del big
    assert ranvier.cpu.memory_allocated() == before


def test_errors():
    a, b = ranvier.ones(2, 3), ranvier.ones(4)
    for f in OPS.values():
        with pytest.raises(RuntimeError, match=r"\[2, 3\].*\[4\]|\[4\].*\[2, 3\]"):
            f(a, b)
    with pytest.raises(TypeError):
        a + "x"
    with pytest.raises(TypeError):
        a * object()
    with pytest.raises(TypeError):
        None - a


def test_other_types_get_notimplemented():
    class Other:
        def __radd__(self, other):
            return "radd"

        def __rtruediv__(self, other):
            return "rtruediv"

    t = ranvier.ones(2)
    assert t + Other() == "radd"
    assert t / Other() == "rtruediv"
