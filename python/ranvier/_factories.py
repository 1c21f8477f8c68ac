"""Factories: tensor, empty, zeros, ones, full, arange, linspace, eye and the *_like forms."""
from ranvier import _C


def _finish(t, requires_grad, device=None, pin_memory=False):
    if device is not None:
        t = t.to(device)
    if pin_memory:
        t = t.pin_memory()
    if requires_grad:
        t.requires_grad_(True)
    return t


def _sizes(size, op="size"):
    """Sizes given as f(2, 3), f((2, 3)) or f([2, 3]), checked to be ints."""
    if len(size) == 1 and not isinstance(size[0], int):
        if not hasattr(size[0], "__len__") or isinstance(size[0], (str, bytes)):
            raise TypeError("%s: size must be a tuple of ints, but got %s"
                            % (op, type(size[0]).__name__))
        size = tuple(size[0])
    for s in size:
        if isinstance(s, bool) or not hasattr(s, "__index__"):
            raise TypeError("%s: size must be a tuple of ints, but found an element of type %s"
                            % (op, type(s).__name__))
    return tuple(s.__index__() for s in size)


def tensor(data, dtype=None, device=None, requires_grad=False, pin_memory=False):
    """A new tensor holding a copy of data (nested lists, numbers, NumPy arrays, tensors)."""
    if isinstance(data, _C.Tensor):
        t = data.detach().clone()
        if dtype is not None:
            t = t._to_dtype(dtype)
        return _finish(t, requires_grad, device, pin_memory)
    if type(data).__module__ == "numpy" and hasattr(data, "__array_interface__"):
        import numpy as np
        arr = np.array(data, order="C", copy=True)  # keeps 0-d arrays 0-d
        t = _C.from_numpy(arr).clone()
        if dtype is not None:
            t = t._to_dtype(dtype)
        return _finish(t, requires_grad, device, pin_memory)
    return _finish(_C._tensor(data, dtype, device), requires_grad, pin_memory=pin_memory)


def as_tensor(data, dtype=None, device=None):
    """Like tensor(), but shares memory with a tensor or NumPy array when it can."""
    if isinstance(data, _C.Tensor):
        t = data if dtype is None else data._to_dtype(dtype)
        return t if device is None else t.to(device)
    if type(data).__module__ == "numpy" and hasattr(data, "__array_interface__"):
        import numpy as np
        try:
            t = _C.from_numpy(np.asarray(data))
        except (TypeError, ValueError):
            return tensor(data, dtype=dtype, device=device)
        t = t if dtype is None else t._to_dtype(dtype)
        return t if device is None else t.to(device)
    return tensor(data, dtype=dtype, device=device)


def empty(*size, dtype=None, device=None, requires_grad=False, out=None, memory_format=None,
          pin_memory=False):
    return _finish(_C._empty(_sizes(size), dtype, device), requires_grad, pin_memory=pin_memory)


def zeros(*size, dtype=None, device=None, requires_grad=False, out=None):
    from ranvier._dtypes import float32
    return _finish(_C._full(_sizes(size), 0, dtype or float32, device), requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False, out=None):
    from ranvier._dtypes import float32
    return _finish(_C._full(_sizes(size), 1, dtype or float32, device), requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad=False, out=None):
    return _finish(_C._full(_sizes((size,), "full"), fill_value, dtype, device), requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False, out=None):
    if end is None:
        start, end = 0, start
    return _finish(_C._arange(start, end, step, dtype, device), requires_grad)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False, out=None):
    return _finish(_C._linspace(float(start), float(end), steps, dtype, device), requires_grad)


def eye(n, m=None, dtype=None, device=None, requires_grad=False, out=None):
    return _finish(_C._eye(n, m, dtype, device), requires_grad)


def empty_like(input, dtype=None, device=None, requires_grad=False, memory_format=None):
    return empty(input.shape, dtype=dtype or input.dtype, device=device or input.device,
                 requires_grad=requires_grad)


def zeros_like(input, dtype=None, device=None, requires_grad=False, memory_format=None):
    return zeros(input.shape, dtype=dtype or input.dtype, device=device or input.device,
                 requires_grad=requires_grad)


def ones_like(input, dtype=None, device=None, requires_grad=False, memory_format=None):
    return ones(input.shape, dtype=dtype or input.dtype, device=device or input.device,
                requires_grad=requires_grad)


def full_like(input, fill_value, dtype=None, device=None, requires_grad=False,
              memory_format=None):
    return full(input.shape, fill_value, dtype=dtype or input.dtype,
                device=device or input.device, requires_grad=requires_grad)
