"""Copies between layouts on the CPU: transposes made contiguous take a tiled kernel (32 x 32
tiles through a buffer) for every element size; other strided copies and elementwise ops walk
rows with pointers stepped dim by dim. Each is checked against NumPy, for several thread
counts."""
import numpy as np
import pytest

import ranvier as rv


def _for_threads(fn):
    old = rv.get_num_threads()
    try:
        for n in (1, 2, 3):
            rv.set_num_threads(n)
            fn()
    finally:
        rv.set_num_threads(old)


DTYPES = [np.float32, np.float64, np.int64, np.int32, np.float16, np.uint8, np.bool_]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(16, 16), (33, 70), (64, 32), (100, 17), (1024, 48)])
def test_transpose_made_contiguous(dtype, shape):
    a = (np.random.default_rng(1).standard_normal(shape) * 50).astype(dtype)
    t = rv.tensor(a)

    def check():
        np.testing.assert_array_equal(t.t().contiguous().numpy(), a.T)
        np.testing.assert_array_equal(t.t().clone().numpy(), a.T)
        out = rv.zeros(shape[1], shape[0], dtype=t.dtype)
        out.copy_(t.t())
        np.testing.assert_array_equal(out.numpy(), a.T)
    _for_threads(check)


@pytest.mark.parametrize("perm", [(0, 2, 1), (2, 1, 0), (1, 2, 0), (2, 0, 1)])
def test_permutes_of_3d(perm):
    a = np.random.default_rng(2).standard_normal((5, 40, 37)).astype(np.float32)
    t = rv.tensor(a)
    _for_threads(lambda: np.testing.assert_array_equal(
        t.permute(*perm).contiguous().numpy(), a.transpose(perm)))


def test_permutes_of_4d_and_sliced_sources():
    a = np.random.default_rng(3).standard_normal((3, 20, 6, 50)).astype(np.float32)
    t = rv.tensor(a)

    def check():
        for perm in [(0, 2, 1, 3), (0, 3, 2, 1), (3, 1, 2, 0), (0, 1, 3, 2)]:
            np.testing.assert_array_equal(t.permute(*perm).contiguous().numpy(), a.transpose(perm))
        # a transposed slice: the unit-stride dim of the source is not the whole row
        np.testing.assert_array_equal(t[:, 2:19, 1, 3:47].transpose(1, 2).contiguous().numpy(),
                                      a[:, 2:19, 1, 3:47].transpose(0, 2, 1))
        # into a strided destination: not the tiled case, the row walk
        out = rv.zeros(3, 50, 40)
        out[:, :, ::2].copy_(t[:, :, 0, :].transpose(1, 2))
        want = np.zeros((3, 50, 40), np.float32)
        want[:, :, ::2] = a[:, :, 0, :].transpose(0, 2, 1)
        np.testing.assert_array_equal(out.numpy(), want)
    _for_threads(check)


def test_dtype_converting_transpose_and_broadcast_rows():
    rng = np.random.default_rng(4)
    a = rng.standard_normal((45, 70)).astype(np.float32)
    b = rng.standard_normal((7, 1, 70)).astype(np.float32)
    t = rv.tensor(a)

    def check():
        np.testing.assert_array_equal(t.t().to(rv.float64).numpy(), a.T.astype(np.float64))
        # elementwise ops over 3 dims with broadcasting and a transposed operand
        got = (rv.tensor(b) + t.t()[:, :45].t()[None]).numpy()
        np.testing.assert_array_equal(got, b + a[None])
        got = (rv.tensor(a)[::2, 1::3] * rv.tensor(b)[:, :, 1::3]).numpy()
        np.testing.assert_array_equal(got, a[::2, 1::3] * b[:, :, 1::3])
    _for_threads(check)


@pytest.mark.parametrize("dtype", DTYPES)
def test_flip_as_one_copy_with_reversed_strides(dtype):
    """flip on the CPU copies once out of a view whose flipped dims have negative strides."""
    a = (np.random.default_rng(5).standard_normal((4, 6, 37)) * 40).astype(dtype)
    t = rv.tensor(a)

    def check():
        for dims in [(0,), (1,), (2,), (0, 2), (2, 1, 0), (-1,)]:
            np.testing.assert_array_equal(t.flip(dims).numpy(), np.flip(a, dims))
            np.testing.assert_array_equal(t.transpose(0, 2).flip(dims).numpy(),
                                          np.flip(a.transpose(2, 1, 0), dims))
            np.testing.assert_array_equal(t[1:, ::2, 3:30].flip(dims).numpy(),
                                          np.flip(a[1:, ::2, 3:30], dims))
        one = rv.tensor(a[:, :1, :])  # a flipped dim of size 1
        np.testing.assert_array_equal(one.flip(1).numpy(), a[:, :1, :])
    _for_threads(check)


def test_flip_gradient_and_result_independence():
    a = np.random.default_rng(6).standard_normal((3, 50)).astype(np.float32)
    t = rv.tensor(a, requires_grad=True)
    y = t.flip(1)
    g = np.random.default_rng(7).standard_normal((3, 50)).astype(np.float32)
    y.backward(rv.tensor(g))
    np.testing.assert_array_equal(t.grad.numpy(), np.flip(g, 1))
    y.detach().zero_()  # the flipped copy does not share the input's memory
    np.testing.assert_array_equal(t.detach().numpy(), a)


@pytest.mark.parametrize("dtype", DTYPES)
def test_row_copies_of_every_element_size(dtype):
    """Same-dtype copies whose rows stay rows (head permutes, slices, broadcasts) run on typed
    pointers: short rows of 16-byte multiples, long rows, strided and broadcast rows."""
    a = (np.random.default_rng(8).standard_normal((6, 20, 4, 48)) * 30).astype(dtype)
    t = rv.tensor(a)

    def check():
        np.testing.assert_array_equal(t.permute(0, 2, 1, 3).contiguous().numpy(),
                                      a.transpose(0, 2, 1, 3))
        np.testing.assert_array_equal(t[:, 3:17, :, 5:45].contiguous().numpy(),
                                      a[:, 3:17, :, 5:45])
        np.testing.assert_array_equal(t[:, :, :, ::3].contiguous().numpy(), a[:, :, :, ::3])
        np.testing.assert_array_equal(t[:, :1].expand(6, 5, 4, 48).contiguous().numpy(),
                                      np.broadcast_to(a[:, :1], (6, 5, 4, 48)))
        out = rv.zeros(6, 4, 20, 48, dtype=t.dtype)
        out.copy_(t.permute(0, 2, 1, 3))
        np.testing.assert_array_equal(out.numpy(), a.transpose(0, 2, 1, 3))
    _for_threads(check)
