"""The error cases the core promises: each raises a Python exception of the right type whose
message names the op and shows the shapes or dtypes, and nothing crashes."""
import numpy as np
import pytest

import ranvier as rv


def test_shapes_that_do_not_broadcast():
    with pytest.raises(RuntimeError, match=r"add.*\[2, 3\].*\[4\]"):
        rv.zeros(2, 3) + rv.zeros(4)


def test_matmul_inner_sizes_differ():
    with pytest.raises(RuntimeError, match=r"2x3.*4x5|\[2, 3\].*\[4, 5\]"):
        rv.zeros(2, 3) @ rv.zeros(4, 5)


def test_dim_out_of_range():
    with pytest.raises(IndexError, match=r"sum.*out of range"):
        rv.zeros(2, 3).sum(dim=2)
    with pytest.raises(IndexError, match=r"out of range"):
        rv.zeros(2, 3).transpose(0, 3)


def test_index_out_of_range():
    x = rv.zeros(3, 4)
    with pytest.raises(IndexError, match=r"3"):
        x[3]
    with pytest.raises(IndexError, match=r"out of (range|bounds)"):
        x[rv.tensor([0, 5])]
    with pytest.raises((IndexError, RuntimeError), match=r"index"):
        x.index_select(0, rv.tensor([7]))


def test_unsupported_dtype_for_op():
    with pytest.raises((TypeError, RuntimeError), match=r"bool|Bool"):
        rv.tensor([True]) - rv.tensor([False])
    with pytest.raises(TypeError, match=r"float16|Half|dtype"):
        rv.zeros(2, dtype=rv.bfloat16).numpy()


def test_view_impossible_on_strides():
    with pytest.raises(RuntimeError, match=r"view.*reshape"):
        rv.zeros(2, 3).t().view(6)


def test_backward_errors():
    x = rv.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="scalar outputs"):
        (x * 2).backward()
    y = (x.exp()).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        x.mul_(2)
    z = x * 1
    w = (z * z).sum()  # mul saves z
    z.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        w.backward()


def test_assign_a_dtype_that_cannot_be_held():
    x = rv.zeros(3, dtype=rv.int64)
    with pytest.raises(RuntimeError, match=r"Float.*Long|can't be cast"):
        x.add_(rv.tensor([0.5, 0.5, 0.5]))
    with pytest.raises(RuntimeError, match=r"can't be cast"):
        rv.zeros(2, dtype=rv.bool).add_(rv.tensor([1, 2]))


def test_non_numbers_where_numbers_are_expected():
    with pytest.raises(TypeError, match="number"):
        rv.zeros(2).fill_("a")
    with pytest.raises(TypeError):
        rv.zeros(2) + "a"
    with pytest.raises(TypeError, match="number"):
        rv.full((2,), None)
    with pytest.raises(TypeError):
        rv.tensor([1.0, "x"])
    t = rv.zeros(2)
    t.fill_(float("nan"))  # NaN is a number: allowed
    assert np.isnan(t.numpy()).all()


def test_from_numpy_unsupported_dtype():
    with pytest.raises(TypeError, match="complex64"):
        rv.from_numpy(np.zeros(2, dtype=np.complex64))
    with pytest.raises(TypeError, match="uint16|supported"):
        rv.from_numpy(np.zeros(2, dtype=np.uint16))


def test_bad_sizes():
    with pytest.raises(ValueError, match="negative dimension"):
        rv.zeros(2, -1)
    with pytest.raises(TypeError, match="size"):
        rv.zeros("2")
    with pytest.raises(RuntimeError, match="invalid for input of size"):
        rv.zeros(6).reshape(4, 2)
