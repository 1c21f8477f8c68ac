"""Tensor methods written in Python: printing, NumPy/list conversion, dtype conversion."""
import builtins

from ranvier import _C
from ranvier import _dtypes
from ranvier._tensor_str import tensor_repr

Tensor = _C.Tensor


def _numpy(self, *, force=False):
    """A NumPy array sharing this tensor's memory (CPU tensors); force=True detaches first."""
    return (self.detach() if force else self)._numpy()


def _array(self, dtype=None, copy=None):
    arr = self.detach()._numpy() if self.dtype != _dtypes.bfloat16 else \
        self.detach()._to_dtype(_dtypes.float32)._numpy()
    if dtype is not None and arr.dtype != dtype:
        if copy is False:
            raise ValueError("__array__: a copy is needed to convert to dtype %s" % dtype)
        return arr.astype(dtype)
    if copy:
        return arr.copy()
    return arr


def _tolist(self):
    t = self.detach()
    if t.device.type != "cpu":
        t = t._to_device(_C.device("cpu"))
    if t.dtype == _dtypes.bfloat16:
        t = t._to_dtype(_dtypes.float32)
    return t._numpy().tolist()


def _to(self, *args, dtype=None, device=None, non_blocking=False, copy=False, **kwargs):
    for a in args:
        if isinstance(a, _C.dtype):
            dtype = a
        elif isinstance(a, (str, _C.device)):
            device = a
        elif isinstance(a, Tensor):
            dtype, device = a.dtype, a.device
    t = self
    if device is not None:
        dev = _C.device(device) if not isinstance(device, _C.device) else device
        if dev != t.device:
            raise NotImplementedError("to: moving tensors to %s is not supported in this build"
                                      % dev)
    if dtype is not None and (dtype != t.dtype or copy):
        t = t._to_dtype(dtype, copy)
    elif copy:
        t = t.clone()
    return t


def _type_as(self, other):
    return self._to_dtype(other.dtype)


def _iter(self):
    if self.dim() == 0:
        raise TypeError("iteration over a 0-d tensor")
    return (self[i] for i in builtins.range(self.shape[0]))


def _float_conv(self):
    return builtins.float(self.item())


def _int_conv(self):
    return builtins.int(self.item())


def _index(self):
    if self.dtype.is_floating_point or self.numel() != 1:
        raise TypeError("only integer tensors of a single element can be converted to an index")
    return builtins.int(self.item())


def _dlpack_device(self):
    return (1, 0) if self.device.type == "cpu" else (2, self.device.index or 0)


def _install():
    Tensor.numpy = _numpy
    Tensor.__array__ = _array
    Tensor.tolist = _tolist
    Tensor.to = _to
    Tensor.type_as = _type_as
    Tensor.__iter__ = _iter
    Tensor.__float__ = _float_conv
    Tensor.__int__ = _int_conv
    Tensor.__index__ = _index
    Tensor.__repr__ = tensor_repr
    Tensor.__str__ = tensor_repr
    Tensor.__array_priority__ = 1000
    Tensor.__dlpack_device__ = _dlpack_device
    for name, dt in (("float", _dtypes.float32), ("double", _dtypes.float64),
                     ("half", _dtypes.float16), ("bfloat16", _dtypes.bfloat16),
                     ("long", _dtypes.int64), ("int", _dtypes.int32), ("byte", _dtypes.uint8),
                     ("bool", _dtypes.bool)):
        setattr(Tensor, name, (lambda d: lambda self: self._to_dtype(d))(dt))


_install()


def _deepcopy(self, memo):
    if id(self) in memo:
        return memo[id(self)]
    data = self.detach().clone()  # no history to record: the source is detached
    if type(self) is Tensor:
        new = data
    else:  # keep subclasses (Parameter) as they are
        new = type(self).__new__(type(self))
        Tensor.__init__(new, data)
    new.requires_grad_(self.requires_grad)
    new.__dict__.update(getattr(self, "__dict__", {}))
    memo[id(self)] = new
    return new


Tensor.__deepcopy__ = _deepcopy


def _cpu(self, memory_format=None):
    if self.device.type == "cpu":
        return self
    raise NotImplementedError("cpu: copying from %s is not supported in this build" % self.device)


def _format(self, spec):
    if self.dim() == 0:
        return self.item().__format__(spec)
    return tensor_repr(self).__format__(spec)


def _new_factory(factory):
    def method(self, *size, dtype=None, device=None, requires_grad=False, **kw):
        return factory(*size, dtype=dtype or self.dtype, device=device or self.device,
                       requires_grad=requires_grad)
    return method


def _new_full(self, size, fill_value, dtype=None, device=None, requires_grad=False):
    from ranvier._factories import full
    return full(size, fill_value, dtype=dtype or self.dtype, device=device or self.device,
                requires_grad=requires_grad)


def _new_tensor(self, data, dtype=None, device=None, requires_grad=False):
    from ranvier._factories import tensor
    return tensor(data, dtype=dtype or self.dtype, device=device or self.device,
                  requires_grad=requires_grad)


def _install_more():
    from ranvier._factories import empty, ones, zeros
    Tensor.cpu = _cpu
    Tensor.__format__ = _format
    Tensor.new_zeros = _new_factory(zeros)
    Tensor.new_ones = _new_factory(ones)
    Tensor.new_empty = _new_factory(empty)
    Tensor.new_full = _new_full
    Tensor.new_tensor = _new_tensor


_install_more()
