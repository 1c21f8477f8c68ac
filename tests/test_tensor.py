"""Tensor basics: dtypes, factories, NumPy and DLPack interop, conversions, printing."""
import numpy as np
import pytest

import ranvier as rv
from helpers import NP_DTYPES, assert_close, to_np


def test_dtype_objects():
    assert rv.float32.itemsize == 4 and rv.bfloat16.itemsize == 2 and rv.bool.itemsize == 1
    assert rv.float16.is_floating_point and not rv.int64.is_floating_point
    assert rv.float is rv.float32 and rv.long is rv.int64 and rv.double is rv.float64
    assert repr(rv.float32) == "ranvier.float32"


@pytest.mark.parametrize("data,dtype", [
    ([1.0, 2.5], rv.float32), ([1, 2], rv.int64), ([True, False], rv.bool),
    ([[1, 2.0], [3, 4]], rv.float32), (3.5, rv.float32), (7, rv.int64), ([], rv.float32),
])
def test_tensor_infers_dtype(data, dtype):
    t = rv.tensor(data)
    assert t.dtype == dtype
    assert_close(t, np.array(data, dtype=NP_DTYPES[dtype]))


def test_tensor_from_numpy_and_tensor_copies():
    a = np.arange(6, dtype=np.float64).reshape(2, 3)
    t = rv.tensor(a)
    a[0, 0] = 100
    assert t.dtype == rv.float64 and to_np(t)[0, 0] == 0
    u = rv.tensor(t, dtype=rv.int32)
    assert u.dtype == rv.int32 and u.data_ptr() != t.data_ptr()


def test_tensor_bad_data():
    with pytest.raises(ValueError, match="tensor"):
        rv.tensor([[1, 2], [3]])
    with pytest.raises(TypeError, match="tensor"):
        rv.tensor(["a", "b"])
    with pytest.raises(TypeError):
        rv.tensor([1, None])


@pytest.mark.parametrize("dtype", [rv.float32, rv.float64, rv.int64, rv.int32, rv.uint8, rv.bool])
def test_factories_match_numpy(dtype):
    npd = NP_DTYPES[dtype]
    assert_close(rv.zeros(2, 3, dtype=dtype), np.zeros((2, 3), npd))
    assert_close(rv.ones((4,), dtype=dtype), np.ones(4, npd))
    assert_close(rv.full((2, 2), 1, dtype=dtype), np.full((2, 2), 1, npd))
    assert_close(rv.eye(3, 4, dtype=dtype), np.eye(3, 4, dtype=npd))
    assert rv.empty(3, 0, dtype=dtype).shape == (3, 0)
    x = rv.ones(2, 5, dtype=dtype)
    assert_close(rv.zeros_like(x), np.zeros((2, 5), npd))
    assert_close(rv.full_like(x, 1), np.ones((2, 5), npd))


def test_full_infers_dtype_from_value():
    assert rv.full((2,), 3).dtype == rv.int64
    assert rv.full((2,), 3.0).dtype == rv.float32
    assert rv.full((2,), True).dtype == rv.bool


@pytest.mark.parametrize("args", [(5,), (2, 11, 3), (10, 0, -2), (0.5, 3.0, 0.25), (-1.0, 1.0, 0.3)])
def test_arange(args):
    t = rv.arange(*args)
    exp = np.arange(*args)
    assert t.dtype == (rv.float32 if exp.dtype.kind == "f" else rv.int64)
    assert_close(t, exp.astype(np.float32 if exp.dtype.kind == "f" else np.int64), rtol=1e-6)


def test_arange_errors():
    with pytest.raises(ValueError, match="step"):
        rv.arange(0, 5, 0)
    with pytest.raises(ValueError, match="arange"):
        rv.arange(5, 0, 1)


@pytest.mark.parametrize("start,end,steps", [(0, 1, 5), (-3, 7, 11), (2, 2, 1), (0, 1, 0), (1, -1, 4)])
def test_linspace(start, end, steps):
    assert_close(rv.linspace(start, end, steps), np.linspace(start, end, steps, dtype=np.float32),
                 rtol=1e-6, atol=1e-6)


def test_numpy_is_zero_copy_both_ways():
    t = rv.zeros(2, 3)
    a = t.numpy()
    a[1, 2] = 5.0
    assert to_np(t)[1, 2] == 5.0
    b = np.arange(12, dtype=np.int32).reshape(3, 4)[:, ::2]  # non-contiguous view
    u = rv.from_numpy(b)
    assert tuple(u.shape) == (3, 2) and tuple(u.stride()) == (4, 2)
    b[0, 1] = 99
    assert to_np(u)[0, 1] == 99


def test_numpy_of_requires_grad_raises():
    with pytest.raises(RuntimeError, match="detach"):
        rv.zeros(2, requires_grad=True).numpy()


def test_from_numpy_errors():
    with pytest.raises(TypeError, match="complex128"):
        rv.from_numpy(np.zeros(3, dtype=np.complex128))
    with pytest.raises(ValueError, match="negative"):
        rv.from_numpy(np.arange(5.0)[::-1])
    with pytest.raises(TypeError, match="ndarray"):
        rv.from_numpy([1, 2])


def test_array_protocol_honours_dtype_and_copy():
    t = rv.tensor([1.5, 2.5])
    a = np.asarray(t)
    assert a.dtype == np.float32 and np.shares_memory(a, t.numpy())
    b = np.array(t, dtype=np.float64)
    assert b.dtype == np.float64
    c = np.array(t)  # copy=True
    c[0] = 9
    assert to_np(t)[0] == 1.5


def test_item_tolist():
    assert rv.tensor(2.5).item() == 2.5 and isinstance(rv.tensor(3).item(), int)
    assert rv.tensor([[1, 2], [3, 4]]).tolist() == [[1, 2], [3, 4]]
    assert rv.tensor([True]).item() is True
    with pytest.raises(RuntimeError, match="cannot be converted"):
        rv.zeros(2).item()


@pytest.mark.parametrize("src", [rv.float32, rv.float64, rv.int64, rv.int32, rv.uint8, rv.bool])
@pytest.mark.parametrize("dst", [rv.float32, rv.float64, rv.float16, rv.int64, rv.int32, rv.uint8, rv.bool])
def test_dtype_conversion_matches_numpy(src, dst):
    vals = np.array([0, 1, 2, 100, 3], dtype=NP_DTYPES[src])
    t = rv.tensor(vals).to(dst)
    assert t.dtype == dst
    assert_close(t, vals.astype(NP_DTYPES[dst]))


def test_float16_rounding_matches_numpy():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.standard_normal(1000) * 10.0 ** rng.integers(-8, 5, 1000),
                        [65504.0, 65520.0, 1e-8, -0.0, np.inf, -np.inf]]).astype(np.float32)
    h = rv.from_numpy(x).half()
    with np.errstate(over="ignore"):
        ref = x.astype(np.float16).astype(np.float32)
    np.testing.assert_array_equal(to_np(h.float()), ref)


def test_bfloat16_rounds_to_nearest_even():
    x = np.array([1.0, 1.00390625, 1.01171875, 3.14159, -2.5e-3, 1e30], dtype=np.float32)
    b = to_np(rv.from_numpy(x).bfloat16())
    # reference: round the float32 bits to the top 16 bits, ties to even
    bits = x.view(np.uint32).astype(np.uint64)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16) << 16
    np.testing.assert_array_equal(b, rounded.astype(np.uint32).view(np.float32))


def test_conversion_methods():
    t = rv.tensor([1.7, -2.2])
    assert t.long().dtype == rv.int64 and t.long().tolist() == [1, -2]
    assert t.double().dtype == rv.float64 and t.int().dtype == rv.int32
    assert t.bool().tolist() == [True, True]
    assert t.to(rv.float64).dtype == rv.float64 and t.to(t).dtype == rv.float32
    assert t.to(rv.float32) is t


def test_dlpack_round_trip_with_numpy():
    t = rv.arange(12, dtype=rv.float32).reshape(3, 4).t()
    a = np.from_dlpack(t)
    np.testing.assert_array_equal(a, to_np(t))
    a[0, 0] = -1  # shares memory
    assert to_np(t)[0, 0] == -1
    u = rv.from_dlpack(np.arange(5, dtype=np.int32))
    assert u.dtype == rv.int32 and u.tolist() == [0, 1, 2, 3, 4]
    v = rv.from_dlpack(rv.tensor([1.0, 2.0]).__dlpack__())
    assert v.tolist() == [1.0, 2.0]
    assert t.__dlpack_device__() == (1, 0)


def test_repr_like_pytorch():
    assert repr(rv.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert repr(rv.tensor([[1, 2], [3, 4]])) == "tensor([[1, 2],\n        [3, 4]])"
    assert repr(rv.tensor([1.5], dtype=rv.float64)) == "tensor([1.5000], dtype=ranvier.float64)"
    assert repr(rv.tensor(2.0, requires_grad=True)) == "tensor(2., requires_grad=True)"
    assert repr(rv.tensor([True])) == "tensor([True])"
    x = rv.tensor([1.0], requires_grad=True)
    assert repr(x * 2) == "tensor([2.], grad_fn=<MulBackward0>)"


def test_metadata():
    t = rv.zeros(2, 3, 4)
    assert t.shape == (2, 3, 4) and t.size() == (2, 3, 4) and t.size(-1) == 4
    assert t.stride() == (12, 4, 1) and t.dim() == 3 and t.ndim == 3 and t.numel() == 24
    assert t.shape.numel() == 24 and repr(t.shape) == "ranvier.Size([2, 3, 4])"
    assert t.is_contiguous() and t.storage_offset() == 0 and len(t) == 2
    assert str(t.device) == "cpu" and t.device == rv.device("cpu") and t.element_size() == 4
    with pytest.raises(IndexError, match="out of range"):
        t.size(3)


def test_bool_of_tensor():
    assert bool(rv.tensor([3.0])) and not bool(rv.tensor(0))
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(rv.zeros(2))


def test_threads_api():
    old = rv.get_num_threads()
    rv.set_num_threads(1)
    assert rv.get_num_threads() == 1
    rv.set_num_threads(old)
    with pytest.raises(ValueError, match="positive"):
        rv.set_num_threads(0)


def test_tensor_constructor_forms():
    assert rv.Tensor(2, 3).shape == (2, 3) and rv.Tensor(2, 3).dtype == rv.float32
    assert rv.Tensor([1, 2]).dtype == rv.float32 and rv.Tensor([1, 2]).tolist() == [1.0, 2.0]
    a = rv.ones(2, requires_grad=True)
    b = rv.Tensor(a)
    assert b.data_ptr() == a.data_ptr() and not b.requires_grad


def test_subclass_and_deepcopy():
    import copy

    class Param(rv.Tensor):
        def __init__(self, data, requires_grad=True):
            super().__init__(data)
            self.requires_grad_(requires_grad)

    p = Param(rv.tensor([1.0, 2.0]))
    assert isinstance(p, rv.Tensor) and p.requires_grad and p.is_leaf
    q = copy.deepcopy(p)
    assert type(q) is Param and q.requires_grad and q.data_ptr() != p.data_ptr()
    assert q.tolist() == [1.0, 2.0]


def test_data_property_and_new_factories():
    a = rv.tensor([1.0, 2.0], requires_grad=True)
    d = a.data
    assert not d.requires_grad and d.data_ptr() == a.data_ptr()
    a.data = rv.tensor([5.0, 6.0, 7.0])
    assert a.tolist() == [5.0, 6.0, 7.0] and a.requires_grad and a.shape == (3,)
    x = rv.zeros(2, dtype=rv.float64)
    assert x.new_zeros(3).dtype == rv.float64 and x.new_ones((2, 2)).tolist() == [[1, 1], [1, 1]]
    assert x.new_full((2,), 4).tolist() == [4.0, 4.0] and x.new_tensor([1]).dtype == rv.float64
    assert f"{rv.tensor(2.5):.2f}" == "2.50" and x.cpu() is x


def test_import_does_not_load_numpy():
    import subprocess
    import sys
    code = "import sys, ranvier, ranvier.nn; print('numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_numpy_force_detaches():
    t = rv.tensor([1.0, 2.0], requires_grad=True)
    a = t.numpy(force=True)
    assert a.tolist() == [1.0, 2.0] and np.shares_memory(a, t.detach().numpy())
