"""Tensor.__getitem__ / __setitem__ against NumPy indexing: basic (views), advanced (integer
tensors, lists, bool masks, mixed with slices/None/Ellipsis), autograd through both, errors."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import ranvier
from helpers import assert_close, gradcheck, gradgradcheck, noncontiguous, rand_np

from helpers import from_np as _from_np


def from_np(a, requires_grad=False):
    """helpers.from_np, keeping 0-d arrays 0-d (np.ascontiguousarray makes them 1-d)."""
    a = np.asarray(a)
    return _from_np(a, requires_grad=requires_grad).reshape(a.shape)


A = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
I = lambda *v: np.array(v, dtype=np.int64)  # noqa: E731

# index expressions that mean the same in NumPy and PyTorch (integers never mixed with arrays
# across a slice, where PyTorch applies the integer first)
CASES = [
    (1,), (-1,), (slice(None),), (slice(1, None),), (slice(None, None, 2),),
    (0, 1), (0, slice(1, 3), -1), (Ellipsis, 2), (None,), (None, 0, None), (Ellipsis, None),
    (slice(None), None, slice(1, 2), Ellipsis), (slice(5, 10),), (slice(-2, -1), 1),
    (1, Ellipsis, slice(None, None, 3)), (slice(None, None, 4), slice(0, 0)),
    (I(0, 1, 1),), (I(1, 0), I(2, 2)), (slice(None), I(0, 2)), (Ellipsis, I(4, 0, 4)),
    (I(0, 1), slice(None), I(3, 0)),           # separated: index dims go first
    (slice(None), I(0, 1), I(1, 2)),            # adjacent: in place
    (slice(None), I(0, 1), slice(None), I(1, 2)),
    (I([0], [1]), I(2, 1)),                      # broadcasting index tensors
    (None, I(1, 0), None), (I(1, 0), None),
    (slice(None), I(-1, -3)), (I(1, 1), slice(1, 3), None, I(3, 0)),
    (A.sum(axis=(2, 3)) > 50,), (slice(None), A[0, :, :, 0] > 40), (A > 60,),
    (A[:, 0, 0, 0] > 0, slice(None), I(1, 2)),
    (np.zeros((2, 3), bool),), (I(),), (slice(None), I()),
]


@pytest.mark.parametrize("k", range(len(CASES)))
def test_getitem_against_numpy(k):
    idx = CASES[k]
    exp = A[idx]
    conv = tuple(from_np(i) if isinstance(i, np.ndarray) else i for i in idx)
    x = from_np(A)
    assert_close(x[conv], exp)
    assert_close(noncontiguous(x)[conv], exp)


@pytest.mark.parametrize("k", range(len(CASES)))
def test_setitem_against_numpy(k):
    idx = CASES[k]
    conv = tuple(from_np(i) if isinstance(i, np.ndarray) else i for i in idx)
    a = A.copy()
    a[idx] = -1.0
    x = from_np(A)
    x[conv] = -1.0
    assert_close(x, a)
    shape = A[idx].shape
    vals = rand_np(shape[1:])  # broadcast along the first result dim
    a = A.copy()
    a[idx] = vals
    x = from_np(A)
    x[conv] = from_np(vals)
    assert_close(x, a)


def test_getitem_lists_and_numpy_ints():
    x = from_np(A)
    assert_close(x[[0, 1, 1]], A[[0, 1, 1]])
    assert_close(x[[1, 0], [2, 2]] if False else x[([1, 0], [2, 2])], A[[1, 0], [2, 2]])
    assert_close(x[[True, False]], A[[True, False]])
    assert_close(x[np.int64(1), np.int32(2)], A[1, 2])
    assert_close(x[[]], A[np.array([], np.int64)])
    assert_close(x[ranvier.tensor(1)], A[1])
    assert x[ranvier.tensor(1)]._base is not None  # a 0-d integer tensor acts as an int: a view
    assert_close(x[ranvier.tensor(0), :, [0, 1]], A[0][:, [0, 1]])
    assert_close(x[ranvier.tensor([1, 0], dtype=ranvier.int32)], A[[1, 0]])
    assert_close(x[np.array([1, 0])], A[[1, 0]])


def test_getitem_bool_scalars():
    x = from_np(A[0, 0])
    assert tuple(x[True].shape) == (1, 4, 5)
    assert tuple(x[False].shape) == (0, 4, 5)
    assert tuple(x[None, ranvier.tensor(True)].shape) == (1, 1, 4, 5)
    assert_close(x[True, 1], A[0, 0][True, 1])


@given(st.data())
def test_getitem_random_slices(data):
    shape = (3, 4, 5)
    a = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    idx = []
    for s in shape:
        kind = data.draw(st.sampled_from(["slice", "int", "arr", "none"]))
        if kind == "slice":
            idx.append(slice(data.draw(st.integers(-6, 6)), data.draw(st.integers(-6, 6)),
                             data.draw(st.integers(1, 3))))
        elif kind == "int":
            idx.append(data.draw(st.integers(-s, s - 1)))
        elif kind == "arr":
            idx.append(np.array(data.draw(st.lists(st.integers(-s, s - 1), min_size=1,
                                                   max_size=3))))
        else:
            idx += [None, slice(None)]
    idx = tuple(idx)
    n_arr = sum(isinstance(i, np.ndarray) for i in idx)
    n_int = sum(isinstance(i, int) for i in idx)
    if n_arr and n_int:
        return  # PyTorch applies integers before arrays; NumPy treats them as arrays
    if n_arr > 1 and len({len(i) for i in idx if isinstance(i, np.ndarray)} - {1}) > 1:
        return
    conv = tuple(from_np(i) if isinstance(i, np.ndarray) else i for i in idx)
    assert_close(from_np(a)[conv], a[idx])
    assert_close(noncontiguous(from_np(a))[conv], a[idx])
    # setitem with a value broadcast over the leading result dim (duplicates get equal values)
    vals = np.random.default_rng(1).standard_normal(a[idx].shape[1:]).astype(np.float32)
    b = a.copy()
    b[idx] = vals
    x = from_np(a)
    x[conv] = from_np(vals)
    assert_close(x, b)


def test_basic_getitem_is_view():
    x = ranvier.zeros(4, 5)
    v = x[1:3, ::2]
    assert v._base is not None
    v[0, 0] = 3.0
    assert x[1, 0].item() == 3.0
    y = x[ranvier.tensor([1])]
    y[0, 0] = 7.0
    assert x[1, 0].item() == 3.0  # advanced indexing copies


def test_setitem_dtype_and_values():
    x = ranvier.zeros(3, dtype=ranvier.int64)
    x[0] = 2.7
    x[1] = ranvier.tensor(5.9)
    x[2] = True
    assert x.tolist() == [2, 5, 1]
    y = ranvier.zeros(2, 3)
    y[0] = ranvier.tensor([[1.0, 2.0, 3.0]])  # leading 1 dim dropped
    y[1, [0, 2]] = ranvier.tensor([7, 8])
    assert_close(y, np.array([[1, 2, 3], [7, 0, 8]], np.float32))
    y[y > 2] = 0.5
    assert_close(y, np.array([[1, 2, 0.5], [0.5, 0, 0.5]], np.float32))
    y[...] = 4
    assert_close(y, np.full((2, 3), 4, np.float32))
    with pytest.raises(TypeError):
        y[0] = "a"
    with pytest.raises(TypeError):
        y[0] = None
    with pytest.raises(RuntimeError, match="shape mismatch|broadcast"):
        y[[0, 1]] = ranvier.zeros(3, 3)


def test_getitem_errors():
    x = ranvier.zeros(2, 3)
    with pytest.raises(IndexError, match="index 5 is out of bounds for dimension 0 with size 2"):
        x[5]
    with pytest.raises(IndexError, match="index 3 is out of bounds for dimension 0 with size 3"):
        x[0, ranvier.tensor([0, 3])]
    with pytest.raises(IndexError, match="index -4 is out of bounds for dimension 1 with size 3"):
        x[:, [-4]] = 1.0
    with pytest.raises(IndexError, match="too many indices for tensor of dimension 2"):
        x[0, 0, 0]
    with pytest.raises(IndexError, match="long, int, byte or bool"):
        x[ranvier.tensor([0.0])]
    with pytest.raises(IndexError, match="shape of the mask"):
        x[ranvier.ones(3, dtype=ranvier.bool)]
    with pytest.raises(ValueError, match="step must be greater than zero"):
        x[::-1]
    with pytest.raises(TypeError):
        x["a"]
    with pytest.raises(IndexError, match="valid indices"):
        x[1.5]
    with pytest.raises(IndexError, match="valid indices"):
        x[np.float64(1.0)]
    with pytest.raises(TypeError, match="can't assign a list"):
        x[0] = [1.0, 2.0, 3.0]
    with pytest.raises(IndexError, match="single ellipsis"):
        x[..., ...]
    with pytest.raises(IndexError, match="could not be broadcast"):
        x[[0, 1], [0, 1, 2]]
    y = ranvier.zeros(3)
    with pytest.raises(IndexError):
        y[ranvier.tensor([0, 9])] = ranvier.tensor([1.0, 2.0])
    assert y.sum().item() == 0.0  # nothing written before the check


def test_getitem_grad():
    a = rand_np((3, 4))
    assert gradcheck(lambda x: x[1:, ::2], a)
    assert gradcheck(lambda x: x[None, 1, ..., -1], a)
    idx = from_np(np.array([2, 0, 2]))
    assert gradcheck(lambda x: x[idx], a)
    assert gradcheck(lambda x: x[idx, 1:3], a)
    assert gradcheck(lambda x: x[idx, idx[:1]], a)
    assert gradcheck(lambda x: x[x.detach() > 0], a)
    assert gradgradcheck(lambda x: x[idx] * x[idx], a)
    assert gradgradcheck(lambda x: x[:, idx] * x[1:2, idx], a)


def test_setitem_autograd():
    w = ranvier.tensor([1.5, -2.0], dtype=ranvier.float64, requires_grad=True)
    x = ranvier.zeros(3, dtype=ranvier.float64)
    x[0] = w[0] * 2
    assert x.requires_grad
    x[ranvier.tensor([2])] = w[1:] * 3
    (x * ranvier.tensor([1.0, 1.0, 5.0], dtype=ranvier.float64)).sum().backward()
    assert_close(w.grad, np.array([2.0, 15.0]))

    # setitem on a non-leaf: the overwritten part gets no gradient
    a = ranvier.tensor(rand_np((2, 3), np.float64), requires_grad=True)
    y = a * 1.0
    y[0, [0, 2]] = 0.0
    y[1, 1:] = 0.0
    y.sum().backward()
    assert_close(a.grad, np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]))

    def f(s, v):
        t = s * 1.0
        t[[1, 0], 1] = v * v
        t[t.detach() > 1.0] = 0.0
        return t
    assert gradcheck(f, rand_np((2, 3)), rand_np((2,)))

    leaf = ranvier.zeros(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        leaf[0] = 1.0
    with pytest.raises(RuntimeError, match="leaf"):
        leaf[ranvier.tensor([0])] = 1.0


@given(st.data())
def test_getitem_int_and_array_mix_like_pytorch(data):
    """Integers mixed with index arrays: PyTorch applies the integers first (unlike NumPy)."""
    torch = pytest.importorskip("torch")
    a = np.arange(60, dtype=np.float32).reshape(3, 4, 5)
    idx = []
    for s in a.shape:
        kind = data.draw(st.sampled_from(["slice", "int", "arr"]))
        if kind == "slice":
            idx.append(slice(data.draw(st.integers(0, 2)), None, data.draw(st.integers(1, 2))))
        elif kind == "int":
            idx.append(data.draw(st.integers(-s, s - 1)))
        else:
            idx.append(np.array(data.draw(st.lists(st.integers(-s, s - 1), min_size=2,
                                                   max_size=2))))
    idx = tuple(idx)
    t_idx = tuple(torch.from_numpy(i) if isinstance(i, np.ndarray) else i for i in idx)
    expected = torch.from_numpy(a)[t_idx].numpy()
    conv = tuple(from_np(i) if isinstance(i, np.ndarray) else i for i in idx)
    assert_close(from_np(a)[conv], expected)
    x = from_np(a)
    x[conv] = -1.0
    ta = torch.from_numpy(a.copy())
    ta[t_idx] = -1.0
    assert_close(x, ta.numpy())


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.int32, np.uint8,
                                   np.bool_])
def test_getitem_setitem_dtypes(dtype):
    a = rand_np((3, 4, 2), dtype)
    x = from_np(a)
    for idx in [(1,), (slice(None), I(3, 0)), (a[..., 0] > 0,), (Ellipsis, None, 1)]:
        conv = tuple(from_np(i) if isinstance(i, np.ndarray) else i for i in idx)
        assert_close(x[conv], a[idx])
        b = a.copy()
        b[idx] = 1
        y = from_np(a)
        y[conv] = 1
        assert_close(y, b)


def test_zero_size_getitem():
    a = np.zeros((0, 3, 2), np.float32)
    x = from_np(a)
    assert_close(x[:, 1], a[:, 1])
    assert_close(x[..., [1, 0]], a[..., [1, 0]])
    assert_close(x[x > 0], a[a > 0])
    assert_close(from_np(A)[2:1], A[2:1])
    x[:, 1] = 5.0
    x[x > 0] = 1.0
