"""View, joining and shape ops against NumPy: storage sharing, non-contiguous and zero-size
inputs, dtypes, gradients (finite differences) and error cases."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import ranvier
from helpers import (assert_close, gradcheck, gradgradcheck, noncontiguous, rand_np,
                     shapes, to_np)

from helpers import from_np as _from_np


def from_np(a, requires_grad=False):
    """helpers.from_np, keeping 0-d arrays 0-d (np.ascontiguousarray makes them 1-d)."""
    a = np.asarray(a)
    return _from_np(a, requires_grad=requires_grad).reshape(a.shape)


ALL_DTYPES = [np.float32, np.float64, np.int64, np.int32, np.uint8, np.bool_]


VIEW_PAIRS = [
    (lambda x: x.view(6, 4), lambda a: a.reshape(6, 4)),
    (lambda x: x.reshape(4, 6), lambda a: a.reshape(4, 6)),
    (lambda x: x.permute(2, 0, 1), lambda a: a.transpose(2, 0, 1)),
    (lambda x: x.transpose(0, 2), lambda a: a.swapaxes(0, 2)),
    (lambda x: x[0].t(), lambda a: a[0].T),
    (lambda x: x.swapaxes(1, 2), lambda a: a.swapaxes(1, 2)),
    (lambda x: x.unsqueeze(1), lambda a: a[:, None]),
    (lambda x: x.flatten(1), lambda a: a.reshape(2, 12)),
    (lambda x: x.narrow(2, 1, 2), lambda a: a[:, :, 1:3]),
    (lambda x: x.select(1, 2), lambda a: a[:, 2]),
    (lambda x: x.unflatten(2, (2, 2)), lambda a: a.reshape(2, 3, 2, 2)),
    (lambda x: x.movedim(0, -1), lambda a: np.moveaxis(a, 0, -1)),
    (lambda x: x[:, 1:, ::2], lambda a: a[:, 1:, ::2]),
    (lambda x: x[None, ..., 0], lambda a: a[None, ..., 0]),
    (lambda x: x[1, -1], lambda a: a[1, -1]),
    (lambda x: x.as_strided((2, 2), (1, 2), 1), lambda a: np.lib.stride_tricks.as_strided(
        a.reshape(-1)[1:], (2, 2), (8, 16))),
    (lambda x: x.mT, lambda a: a.swapaxes(-1, -2)),
    (lambda x: x.unbind(1)[2], lambda a: a[:, 2]),
    (lambda x: x.chunk(2, 2)[1], lambda a: a[:, :, 2:]),
    (lambda x: x.split([1, 2], 1)[1], lambda a: a[:, 1:]),
    (lambda x: x.tensor_split(3, dim=2)[0], lambda a: a[:, :, :2]),
    (lambda x: x.contiguous(), lambda a: a),
]


@pytest.mark.parametrize("k", range(len(VIEW_PAIRS)))
def test_views_share_storage(k):
    rv, nv = VIEW_PAIRS[k]
    a = np.arange(24, dtype=np.int64).reshape(2, 3, 4)
    x = from_np(a)
    v = rv(x)
    assert v._base is not None or k == len(VIEW_PAIRS) - 1
    assert_close(v, nv(a))
    v[...] = -7
    nv(a)[...] = -7
    assert_close(x, a)


def test_clone_and_expand_do_what_they_should():
    x = ranvier.zeros(3)
    c = x.clone()
    c[0] = 1.0
    assert x[0].item() == 0.0
    e = x.expand(2, 3)
    assert e.stride() == (0, 1) and e.data_ptr() == x.data_ptr()
    assert_close(x.expand_as(ranvier.zeros(4, 3)), np.zeros((4, 3), np.float32))


def test_view_data_ptr():
    x = ranvier.zeros(4, 6)
    assert x[1].data_ptr() == x.data_ptr() + 6 * 4
    assert x[:, 2].data_ptr() == x.data_ptr() + 2 * 4
    assert x.narrow(0, 2, 1).data_ptr() == x.data_ptr() + 12 * 4
    assert x.t().data_ptr() == x.data_ptr()
    a, b = x.split(3, dim=1)
    assert b.data_ptr() == x.data_ptr() + 3 * 4
    b[0, 0] = 5.0
    assert x[0, 3].item() == 5.0


@given(shapes(1, 4, 0, 4), st.data())
def test_reshape_permute_transpose(shape, data):
    a = rand_np(shape)
    x = from_np(a)
    perm = data.draw(st.permutations(range(len(shape))))
    assert_close(x.permute(*perm), np.transpose(a, perm))
    assert_close(x.reshape(-1), a.reshape(-1))
    d0 = data.draw(st.integers(-len(shape), len(shape) - 1))
    d1 = data.draw(st.integers(-len(shape), len(shape) - 1))
    assert_close(x.transpose(d0, d1), np.swapaxes(a, d0, d1))
    assert_close(ranvier.movedim(x, d0, d1), np.moveaxis(a, d0, d1))
    assert_close(noncontiguous(x).reshape(-1), a.reshape(-1))
    assert_close(noncontiguous(x).permute(*perm), np.transpose(a, perm))
    du = data.draw(st.integers(-len(shape) - 1, len(shape)))
    assert_close(x.unsqueeze(du), np.expand_dims(a, du))


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_views_all_dtypes(dtype):
    a = rand_np((2, 3, 4), dtype)
    x = from_np(a)
    assert_close(x.transpose(0, 2), a.transpose(2, 1, 0))
    assert_close(x.narrow(1, 1, 2), a[:, 1:3])
    assert_close(x.select(2, -1), a[:, :, -1])
    assert_close(x.flatten(), a.reshape(-1))
    assert_close(x.unflatten(1, (3, 1)), a.reshape(2, 3, 1, 4))
    assert_close(x.expand(2, 2, 3, 4), np.broadcast_to(a, (2, 2, 3, 4)))


def test_squeeze_variants():
    a = rand_np((1, 3, 1, 2))
    x = from_np(a)
    assert_close(x.squeeze(), a.squeeze())
    assert_close(x.squeeze(0), a.squeeze(0))
    assert_close(x.squeeze((0, 2)), a.squeeze((0, 2)))
    assert_close(x.squeeze(1), a)
    assert_close(ranvier.squeeze(x, -2), a.squeeze(-2))


def test_view_non_viewable_raises():
    x = ranvier.zeros(2, 3).t()
    with pytest.raises(RuntimeError, match="view"):
        x.view(6)
    assert_close(x.reshape(6), np.zeros(6, np.float32))
    with pytest.raises(RuntimeError, match="invalid for input of size"):
        ranvier.zeros(2, 3).view(4, 2)


def test_dim_out_of_range():
    x = ranvier.zeros(2, 3)
    for f in (lambda: x.transpose(0, 2), lambda: x.unsqueeze(3), lambda: x.narrow(2, 0, 1),
              lambda: x.select(-3, 0), lambda: x.unbind(2), lambda: ranvier.cat([x, x], 2),
              lambda: ranvier.stack([x], 3), lambda: x.split(1, 5), lambda: x.flip(2),
              lambda: x.squeeze(4), lambda: x.movedim(2, 0)):
        with pytest.raises(IndexError, match="out of range|Dimension"):
            f()


def test_select_narrow_errors():
    x = ranvier.zeros(2, 3)
    with pytest.raises(IndexError, match="out of range"):
        x.select(1, 3)
    with pytest.raises(RuntimeError, match="exceeds dimension size"):
        x.narrow(1, 2, 2)


# ----------------------------------------------------------------- split family

@given(shapes(1, 3, 0, 6), st.data())
def test_split_chunk_unbind(shape, data):
    a = rand_np(shape)
    x = from_np(a)
    dim = data.draw(st.integers(0, len(shape) - 1))
    n = shape[dim]
    size = data.draw(st.integers(1, 4))
    parts = x.split(size, dim)
    expected = [np.take(a, range(s, min(s + size, n)), axis=dim) for s in range(0, n, size)] \
        if n else [a]
    assert len(parts) == len(expected)
    for p, e in zip(parts, expected):
        assert_close(p, e)
    chunks = data.draw(st.integers(1, 4))
    for p, e in zip(x.chunk(chunks, dim), [a] if n == 0 else
                    [np.take(a, range(s, min(s + -(-n // chunks), n)), axis=dim)
                     for s in range(0, n, -(-n // chunks))]):
        assert_close(p, e)
    for p, e in zip(x.unbind(dim), [np.take(a, i, axis=dim) for i in range(n)]):
        assert_close(p, e)
    sections = data.draw(st.integers(1, 4))
    for p, e in zip(x.tensor_split(sections, dim), np.array_split(a, sections, axis=dim)):
        assert_close(p, e)
    for p, e in zip(ranvier.tensor_split(x, [1, 3], dim), np.split(a, [1, 3], axis=dim)):
        assert_close(p, e)


def test_split_sizes_and_errors():
    a = rand_np((5, 2))
    x = from_np(a)
    p = ranvier.split(x, [2, 3])
    assert isinstance(p, tuple) and len(p) == 2
    assert_close(p[1], a[2:])
    with pytest.raises(RuntimeError, match="sum exactly"):
        x.split([2, 2])
    with pytest.raises(RuntimeError, match="greater than 0"):
        x.chunk(0)


def test_split_unbind_grad_one_node():
    x = ranvier.tensor(rand_np((4, 3), np.float64), requires_grad=True)
    a, b = x.split(2)
    assert a.grad_fn is b.grad_fn
    (a * 2 + 0).sum().backward()
    expected = np.zeros((4, 3))
    expected[:2] = 2
    assert_close(x.grad, expected)
    u = x.unbind(1)
    assert u[0].grad_fn is u[2].grad_fn
    assert gradcheck(lambda t: t.unbind(1)[1] * t.unbind(1)[2], rand_np((3, 3)))
    assert gradcheck(lambda t: ranvier.chunk(t, 2, 0)[1], rand_np((3, 2)))
    assert gradcheck(lambda t: t.split([1, 2], 1), rand_np((2, 3)))


# ----------------------------------------------------------------- cat / stack

@given(st.data())
def test_cat_against_numpy(data):
    ndim = data.draw(st.integers(1, 3))
    base = list(data.draw(shapes(ndim, ndim, 0, 4)))
    dim = data.draw(st.integers(-ndim, ndim - 1))
    k = data.draw(st.integers(1, 4))
    arrs = []
    for _ in range(k):
        s = list(base)
        s[dim] = data.draw(st.integers(0, 3))
        arrs.append(rand_np(tuple(s)))
    ts = [from_np(a) if data.draw(st.booleans()) else noncontiguous(from_np(a)) for a in arrs]
    assert_close(ranvier.cat(ts, dim), np.concatenate(arrs, dim))
    assert_close(ranvier.concat(ts, dim=dim), np.concatenate(arrs, dim))


def test_cat_promotion_and_empty_skip():
    a = np.arange(6, dtype=np.int32).reshape(2, 3)
    b = rand_np((1, 3), np.float64)
    r = ranvier.cat([from_np(a), from_np(b)])
    assert_close(r, np.concatenate([a.astype(np.float64), b]))
    r = ranvier.cat([from_np(a), ranvier.tensor([], dtype=ranvier.int64), from_np(a)], 0)
    assert_close(r, np.concatenate([a, a]).astype(np.int64))
    r = ranvier.cat([from_np(np.array([True, False])), from_np(np.array([2], np.uint8))])
    assert_close(r, np.array([1, 0, 2], np.uint8))


def test_cat_errors():
    with pytest.raises(RuntimeError, match=r"Sizes of tensors must match.*\[2, 3\].*\[2, 4\]"):
        ranvier.cat([ranvier.zeros(2, 3), ranvier.zeros(2, 4)])
    with pytest.raises(RuntimeError, match="same number of dimensions"):
        ranvier.cat([ranvier.zeros(2, 3), ranvier.zeros(2, 3, 1)])
    with pytest.raises(RuntimeError, match="zero-dimensional"):
        ranvier.cat([ranvier.zeros(())])
    with pytest.raises(RuntimeError, match="non-empty"):
        ranvier.cat([])
    with pytest.raises(TypeError):
        ranvier.cat(ranvier.zeros(3))
    with pytest.raises(RuntimeError, match="equal size"):
        ranvier.stack([ranvier.zeros(2), ranvier.zeros(3)])


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_stack_hstack_vstack(dtype):
    arrs = [rand_np((2, 3), dtype, np.random.default_rng(i)) for i in range(3)]
    ts = [from_np(a) for a in arrs]
    for d in (0, 1, 2, -1):
        assert_close(ranvier.stack(ts, d), np.stack(arrs, d))
    assert_close(ranvier.hstack(ts), np.hstack(arrs))
    assert_close(ranvier.vstack(ts), np.vstack(arrs))
    v = [from_np(a[0]) for a in arrs]
    assert_close(ranvier.vstack(v), np.vstack([a[0] for a in arrs]))
    assert_close(ranvier.hstack(v), np.hstack([a[0] for a in arrs]))


def test_cat_stack_grad():
    a, b = rand_np((2, 3)), rand_np((1, 3))
    assert gradcheck(lambda x, y: ranvier.cat([x, y]) * 2, a, b)
    assert gradgradcheck(lambda x, y: ranvier.cat([x * x, y], 0), a, b)
    assert gradcheck(lambda x, y: ranvier.cat([x, y.t()], 1), rand_np((3, 2)), rand_np((2, 3)))
    c, d = rand_np((2, 3)), rand_np((2, 3))
    assert gradcheck(lambda x, y: ranvier.stack([x, y], 1), c, d)
    assert gradgradcheck(lambda x, y: ranvier.stack([x * y, y], -1), c, d)


def test_cat_grad_mixed_dtype():
    x = ranvier.tensor([1.0, 2.0], dtype=ranvier.float32, requires_grad=True)
    y = ranvier.tensor([3.0], dtype=ranvier.float64, requires_grad=True)
    z = ranvier.cat([x, y])
    assert z.dtype == ranvier.float64
    (z * ranvier.tensor([1.0, 2.0, 3.0], dtype=ranvier.float64)).sum().backward()
    assert x.grad.dtype == ranvier.float32
    assert_close(x.grad, np.array([1.0, 2.0], np.float32))
    assert_close(y.grad, np.array([3.0]))


# ----------------------------------------------------------------- view gradients

def test_view_grads():
    a = rand_np((2, 3, 4))
    assert gradcheck(lambda x: x.permute(2, 0, 1) * 1.5, a)
    assert gradcheck(lambda x: x.narrow(2, 1, 2), a)
    assert gradcheck(lambda x: x.select(1, -1), a)
    assert gradgradcheck(lambda x: x.select(1, 0) * x.select(1, 2), a)
    assert gradcheck(lambda x: x.unflatten(2, (2, 2)).movedim(3, 0), a)
    assert gradcheck(lambda x: x.expand(2, 2, 3, 4), a)
    assert gradcheck(lambda x: x.mT, a)
    assert gradcheck(lambda x: x.as_strided((2, 2), (3, 1), 1), rand_np((3, 3)))
    # overlapping windows: the gradient of a storage slot sums over every view element on it
    assert gradcheck(lambda x: x.as_strided((3, 2), (1, 1), 0), rand_np((4,)))
    assert gradgradcheck(lambda x: x.as_strided((3, 2), (1, 1), 0) * x.as_strided((3, 2), (1, 0), 1),
                         rand_np((4,)))
    assert gradgradcheck(lambda x: x[1:].as_strided((2, 2), (1, 2), 2) * x[:4].reshape(2, 2),
                         rand_np((6,)))


# ----------------------------------------------------------------- misc shape ops

@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.int32, np.bool_])
def test_tril_triu(dtype):
    a = rand_np((2, 3, 5), dtype)
    x = from_np(a)
    for k in (-2, -1, 0, 1, 3):
        assert_close(x.tril(k), np.tril(a, k))
        assert_close(ranvier.triu(x, k), np.triu(a, k))
    assert_close(noncontiguous(x).tril(), np.tril(a))
    assert gradcheck(lambda t: t.tril(-1) + t.triu(1), rand_np((3, 4)))
    with pytest.raises(RuntimeError, match="at least 2 dimensions"):
        ranvier.zeros(3).tril()


@given(shapes(0, 4, 0, 4), st.data())
def test_flip_roll(shape, data):
    a = rand_np(shape)
    x = from_np(a)
    nd = len(shape)
    dims = data.draw(st.lists(st.integers(0, nd - 1), unique=True)) if nd else []
    assert_close(x.flip(dims), np.flip(a, dims) if dims else a)
    if nd:
        shifts = [data.draw(st.integers(-7, 7)) for _ in dims]
        if dims:
            assert_close(x.roll(shifts, dims), np.roll(a, shifts, dims))
    s = data.draw(st.integers(-5, 5))
    assert_close(ranvier.roll(x, s), np.roll(a, s))


def test_flip_roll_grad():
    a = rand_np((3, 4))
    assert gradcheck(lambda t: t.flip(0, 1) * t, a)
    assert gradgradcheck(lambda t: t.flip(1) * t, a)
    assert gradcheck(lambda t: t.roll((1, -2), (0, 1)) * t, a)
    assert gradcheck(lambda t: t.roll(5), a)


@given(shapes(0, 3, 0, 3), st.data())
def test_repeat_tile(shape, data):
    a = rand_np(shape)
    x = from_np(a)
    extra = data.draw(st.integers(0, 2))
    reps = tuple(data.draw(st.integers(0, 3)) for _ in range(len(shape) + extra))
    assert_close(x.repeat(*reps) if reps else x.repeat(()), np.tile(a, reps) if reps else a)
    t_reps = tuple(data.draw(st.integers(1, 3)) for _ in range(data.draw(st.integers(0, 4))))
    assert_close(ranvier.tile(x, t_reps), np.tile(a, t_reps))


def test_repeat_grad_and_errors():
    assert gradcheck(lambda t: t.repeat(2, 1, 3), rand_np((2, 3)))
    assert gradcheck(lambda t: t.tile((2,)), rand_np((3,)))
    with pytest.raises(RuntimeError, match="smaller than number of dimensions"):
        ranvier.zeros(2, 3).repeat(2)


PAD_CASES = [((2, 3, 4), (1, 2)), ((2, 3, 4), (0, 1, 2, 0)), ((1, 2, 3, 4), (1, 1, 2, 2)),
             ((2, 2, 3, 3, 3), (1, 0, 0, 1, 2, 2))]


@pytest.mark.parametrize("shape,p", PAD_CASES)
@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
def test_pad_against_numpy(shape, p, mode):
    a = rand_np(shape)
    x = from_np(a)
    widths = [(0, 0)] * len(shape)
    for i in range(len(p) // 2):
        widths[len(shape) - 1 - i] = (p[2 * i], p[2 * i + 1])
    np_mode = {"constant": "constant", "reflect": "reflect", "replicate": "edge",
               "circular": "wrap"}[mode]
    out = ranvier.nn.functional.pad(x, p, mode=mode)
    assert_close(out, np.pad(a, widths, mode=np_mode))
    assert_close(ranvier.nn.functional.pad(noncontiguous(x), p, mode=mode),
                 np.pad(a, widths, mode=np_mode))
    assert gradcheck(lambda t: ranvier.nn.functional.pad(t, p, mode=mode), rand_np(shape[-3:]
                     if mode == "constant" else shape[:1] + shape[-(len(p) // 2):]))


def test_pad_constant_value_negative_and_dtypes():
    a = np.arange(12, dtype=np.int64).reshape(3, 4)
    x = from_np(a)
    assert_close(ranvier.nn.functional.pad(x, (1, 1), value=7),
                 np.pad(a, ((0, 0), (1, 1)), constant_values=7))
    assert_close(ranvier.nn.functional.pad(x, (-1, 2, 1, -2)),
                 np.pad(a, ((1, 0), (0, 2)))[:2, 1:])
    assert gradgradcheck(lambda t: ranvier.nn.functional.pad(t * t, (1, -1)), rand_np((2, 3)))
    with pytest.raises(RuntimeError, match="divisible by 2"):
        ranvier.nn.functional.pad(x, (1,))
    with pytest.raises(RuntimeError, match="less than the corresponding input"):
        ranvier.nn.functional.pad(ranvier.zeros(1, 2, 3), (3, 0), mode="reflect")
    with pytest.raises(NotImplementedError, match="unsupported padding mode"):
        ranvier.nn.functional.pad(x, (1, 1), mode="bogus")


def test_one_hot():
    a = np.array([[0, 3], [1, 1]], np.int64)
    r = ranvier.nn.functional.one_hot(from_np(a))
    assert_close(r, np.eye(4, dtype=np.int64)[a])
    assert_close(ranvier.nn.functional.one_hot(from_np(a), 6), np.eye(6, dtype=np.int64)[a])
    assert tuple(ranvier.nn.functional.one_hot(ranvier.zeros(0, dtype=ranvier.int64), 3).shape) \
        == (0, 3)
    with pytest.raises(RuntimeError, match="non-negative"):
        ranvier.nn.functional.one_hot(ranvier.tensor([-1, 2]))
    with pytest.raises(RuntimeError, match="smaller than num_classes"):
        ranvier.nn.functional.one_hot(ranvier.tensor([5]), 3)
    with pytest.raises(RuntimeError, match="int64"):
        ranvier.nn.functional.one_hot(ranvier.tensor([1.0]))


def test_zero_dim_inputs():
    x = ranvier.tensor(2.5)
    assert_close(x.flip(0), np.array(2.5, np.float32))
    assert_close(ranvier.roll(x, 3, 0), np.array(2.5, np.float32))
    assert_close(ranvier.movedim(x, 0, -1), np.array(2.5, np.float32))
    assert_close(x.unsqueeze(0).squeeze(0), np.array(2.5, np.float32))
    assert_close(x.t(), np.array(2.5, np.float32))
    assert_close(x.transpose(0, -1), np.array(2.5, np.float32))
    assert_close(x.flatten(), np.array([2.5], np.float32))
    assert_close(ranvier.stack([x, x]), np.array([2.5, 2.5], np.float32))
    assert_close(ranvier.hstack([x, x]), np.array([2.5, 2.5], np.float32))
    for f in (lambda: x.flip(1), lambda: ranvier.roll(x, 1, 1), lambda: x.movedim(1, 0),
              lambda: x.unflatten(0, (1,)), lambda: x.narrow(0, 0, 1), lambda: x.unbind(0)):
        with pytest.raises(IndexError):
            f()
