"""Random numbers: seeding, generators, thread-count invariance, distributions."""
import numpy as np
import pytest

import ranvier as rv
from helpers import to_np


def test_manual_seed_reproduces():
    rv.manual_seed(123)
    a = to_np(rv.randn(100))
    rv.manual_seed(123)
    b = to_np(rv.randn(100))
    np.testing.assert_array_equal(a, b)
    assert rv.initial_seed() == 123


def test_generator_is_independent_of_default():
    g = rv.Generator().manual_seed(7)
    a = to_np(rv.rand(50, generator=g))
    rv.manual_seed(0)
    rv.rand(10)
    g2 = rv.Generator().manual_seed(7)
    b = to_np(rv.rand(50, generator=g2))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, to_np(rv.rand(50)))


def test_get_set_state_round_trip():
    g = rv.Generator().manual_seed(1)
    rv.rand(5, generator=g)
    st = g.get_state()
    a = to_np(rv.randn(20, generator=g))
    g.set_state(st)
    np.testing.assert_array_equal(a, to_np(rv.randn(20, generator=g)))


@pytest.mark.parametrize("maker", [
    lambda g: rv.rand(100_003, generator=g),
    lambda g: rv.randn(100_003, generator=g, dtype=rv.float64),
    lambda g: rv.randint(0, 1000, (70_001,), generator=g),
    lambda g: rv.empty(300, 400).t().normal_(generator=g),
])
def test_same_numbers_for_any_thread_count(maker):
    old = rv.get_num_threads()
    try:
        rv.set_num_threads(1)
        a = to_np(maker(rv.Generator().manual_seed(5)))
        rv.set_num_threads(2)
        b = to_np(maker(rv.Generator().manual_seed(5)))
    finally:
        rv.set_num_threads(old)
    np.testing.assert_array_equal(a, b)


def test_uniform_distribution():
    x = to_np(rv.rand(200_000, generator=rv.Generator().manual_seed(2))).astype(np.float64)
    assert x.min() >= 0.0 and x.max() < 1.0
    # mean 1/2, variance 1/12; 6-sigma bounds on the sample mean and variance
    assert abs(x.mean() - 0.5) < 6 * np.sqrt(1 / 12 / x.size)
    assert abs(x.var() - 1 / 12) < 0.002
    hist, _ = np.histogram(x, bins=10, range=(0, 1))
    assert np.all(np.abs(hist - x.size / 10) < 6 * np.sqrt(x.size / 10))


@pytest.mark.parametrize("dtype", [rv.float32, rv.float64])
def test_normal_distribution(dtype):
    x = to_np(rv.randn(200_000, dtype=dtype, generator=rv.Generator().manual_seed(3)))
    x = x.astype(np.float64)
    assert abs(x.mean()) < 6 / np.sqrt(x.size)
    assert abs(x.std() - 1.0) < 0.01
    assert abs(np.mean(np.abs(x) < 1.0) - 0.6827) < 0.01


def test_normal_and_uniform_in_place_with_parameters():
    t = rv.empty(100, 300).t()  # non-contiguous
    t.normal_(2.0, 0.5, generator=rv.Generator().manual_seed(4))
    x = to_np(t)
    assert abs(x.mean() - 2.0) < 0.02 and abs(x.std() - 0.5) < 0.02
    t.uniform_(-3.0, -1.0)
    x = to_np(t)
    assert x.min() >= -3.0 and x.max() < -1.0


def test_randint_range_and_dtype():
    x = rv.randint(-5, 5, (10_000,))
    assert x.dtype == rv.int64
    v = to_np(x)
    assert v.min() == -5 and v.max() == 4
    y = rv.randint(3, (4, 2), dtype=rv.int32)
    assert y.dtype == rv.int32 and tuple(y.shape) == (4, 2)
    with pytest.raises(ValueError, match="randint"):
        rv.randint(5, 5, (3,))


def test_randperm_is_a_permutation():
    p = to_np(rv.randperm(1000))
    np.testing.assert_array_equal(np.sort(p), np.arange(1000))
    assert not np.array_equal(p, np.arange(1000))


def test_bernoulli():
    p = rv.full((100_000,), 0.3)
    x = to_np(rv.bernoulli(p, generator=rv.Generator().manual_seed(9)))
    assert set(np.unique(x)) <= {0.0, 1.0}
    assert abs(x.mean() - 0.3) < 6 * np.sqrt(0.21 / x.size)
    t = rv.zeros(50_000)
    t.bernoulli_(0.8)
    assert abs(to_np(t).mean() - 0.8) < 0.02
    with pytest.raises(ValueError, match="bernoulli_"):
        t.bernoulli_(1.5)


def test_random_errors():
    with pytest.raises(TypeError, match="floating point"):
        rv.zeros(3, dtype=rv.int64).uniform_()
    with pytest.raises(ValueError, match="std"):
        rv.zeros(3).normal_(0.0, -1.0)
    with pytest.raises(TypeError, match="Generator"):
        rv.rand(3, generator="seed")
