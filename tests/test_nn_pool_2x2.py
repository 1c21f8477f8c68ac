"""The 2x2 / stride 2 max pool fast path (vectorised for float32): values and flat indices
against a NumPy loop for odd sizes, rows longer than one vector step, ties, NaNs, infinities,
float64, gradients, and the same bits for any thread count."""
import numpy as np
import pytest

import ranvier
import ranvier.nn.functional as F
from helpers import assert_close, from_np, gradcheck, np_max_pool_2x2

RNG = np.random.default_rng(7)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("h,w", [(2, 2), (5, 7), (8, 33), (3, 64), (6, 70), (28, 28), (3, 2)])
def test_max_pool_2x2_matches_numpy(dtype, h, w):
    x = RNG.standard_normal((2, 3, h, w)).astype(dtype)
    out, idx = F.max_pool2d(from_np(x), 2, return_indices=True)
    ro, ri = np_max_pool_2x2(x)
    assert out.dtype == (ranvier.float32 if dtype == np.float32 else ranvier.float64)
    assert_close(out, ro, rtol=0, atol=0)
    assert_close(idx, ri)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_max_pool_2x2_ties_nan_inf(dtype):
    # small integers give many ties; NaNs and infinities sprinkled in
    x = RNG.integers(-2, 3, size=(3, 2, 10, 38)).astype(dtype)
    flat = x.reshape(-1)
    pick = RNG.choice(flat.size, size=40, replace=False)
    flat[pick[:20]] = np.nan
    flat[pick[20:30]] = np.inf
    flat[pick[30:]] = -np.inf
    out, idx = F.max_pool2d(from_np(x), 2, return_indices=True)
    ro, ri = np_max_pool_2x2(x)
    got = out.numpy()
    assert np.array_equal(np.isnan(got), np.isnan(ro))
    assert np.array_equal(np.nan_to_num(got), np.nan_to_num(ro))
    assert_close(idx, ri)
    # all-equal windows: the first tap
    z = np.zeros((1, 1, 4, 6), dtype)
    _, zi = F.max_pool2d(from_np(z), 2, return_indices=True)
    assert_close(zi, np.array([[[[0, 2, 4], [12, 14, 16]]]]))


def test_max_pool_2x2_same_bits_any_thread_count():
    x = from_np(RNG.standard_normal((5, 7, 13, 31)).astype(np.float32))
    old = ranvier.get_num_threads()
    try:
        ranvier.set_num_threads(1)
        o1, i1 = F.max_pool2d(x, 2, return_indices=True)
        ranvier.set_num_threads(2)
        o2, i2 = F.max_pool2d(x, 2, return_indices=True)
    finally:
        ranvier.set_num_threads(old)
    assert np.array_equal(o1.numpy(), o2.numpy()) and np.array_equal(i1.numpy(), i2.numpy())


def test_max_pool_2x2_gradcheck_odd_sizes():
    assert gradcheck(lambda t: F.max_pool2d(t, 2), RNG.standard_normal((2, 2, 5, 9)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("h,w", [(5, 7), (4, 4), (3, 70), (28, 28)])
def test_max_pool_2x2_backward_matches_numpy(dtype, h, w):
    # each input element gets the output gradient of the window whose argmax it is, else 0
    # (the rows and columns outside every window included)
    x = RNG.integers(-3, 4, size=(2, 3, h, w)).astype(dtype)  # ties
    x.reshape(-1)[::17] = np.nan
    t = from_np(x, requires_grad=True)
    y = F.max_pool2d(t, 2)
    gout = RNG.standard_normal(tuple(y.shape)).astype(dtype)
    y.backward(from_np(gout))
    _, ri = np_max_pool_2x2(x)
    ref = np.zeros((2, 3, h * w), dtype)
    for a in range(2):
        for b in range(3):
            np.add.at(ref[a, b], ri[a, b].reshape(-1), gout[a, b].reshape(-1))
    assert np.array_equal(t.grad.numpy(), ref.reshape(x.shape))
