"""Device moves on Tensor: ``to(device)``, ``cuda()``, ``cpu()``; and, when CUDA tensors can exist,
the host readers (item, tolist, repr, numpy, ...) that must copy to the CPU first.

A move to CUDA without CUDA raises RuntimeError with the reason ("ranvier was built without
CUDA" / "no CUDA device"). Moves are differentiable (the gradient moves back)."""
import sys

from ranvier import _C

_cuda = sys.modules["ranvier.cuda"]  # imported from ranvier/cuda/__init__.py, mid-import

Tensor = _C.Tensor
_dtype_to = Tensor.to  # the dtype / copy part (ranvier/_tensor.py)


def _device(d):
    return d if isinstance(d, _C.device) else _C.device(d)


def _move(t, device):
    dev = _device(device)
    if dev == t.device:
        return t
    if dev.type == "cuda":
        _cuda._index(dev)  # raises when CUDA is not there or the index is out of range
    return t._to_device(dev)


def _to(self, *args, dtype=None, device=None, non_blocking=False, copy=False, **kwargs):
    rest = []
    for a in args:
        if isinstance(a, (str, _C.device)):
            device = a
        elif isinstance(a, Tensor):
            dtype, device = a.dtype, a.device
        else:
            rest.append(a)
    t = self
    if device is not None:
        t = _move(self, device)
    moved = t is not self
    return _dtype_to(t, *rest, dtype=dtype, copy=copy and not moved, **kwargs)


def _cuda_method(self, device=None, non_blocking=False, memory_format=None):
    if device is None:
        dev = "cuda"
    elif isinstance(device, int) and not isinstance(device, bool):
        dev = "cuda:%d" % device
    else:
        dev = device
    return _move(self, dev)


def _cpu(self, memory_format=None):
    return _move(self, "cpu")


Tensor.to = _to
Tensor.cuda = _cuda_method
Tensor.cpu = _cpu


def _host_reader(name):
    orig = getattr(Tensor, name)

    def method(self, *args, **kwargs):
        if self.device.type == "cuda":
            return orig(self._to_device(_C.device("cpu")), *args, **kwargs)
        return orig(self, *args, **kwargs)
    method.__name__ = name
    method.__doc__ = orig.__doc__
    return method


def _no_numpy(name):
    orig = getattr(Tensor, name)

    def method(self, *args, **kwargs):
        if self.device.type == "cuda":
            raise TypeError("can't convert %s device type tensor to numpy. Use Tensor.cpu() to "
                            "copy the tensor to host memory first." % self.device)
        return orig(self, *args, **kwargs)
    method.__name__ = name
    return method


def _repr_with_device():
    orig = Tensor.__repr__

    def __repr__(self, *args, **kwargs):
        if self.device.type != "cuda":
            return orig(self, *args, **kwargs)
        r = orig(self._to_device(_C.device("cpu")).detach(), *args, **kwargs)
        return r[:-1] + ", device='%s')" % self.device if r.endswith(")") else r
    return __repr__


if _cuda.is_available():
    # The core reads these on the host: give them a CPU copy.
    for _name in ("item", "tolist", "__float__", "__int__", "__index__", "__bool__",
                  "__format__"):
        setattr(Tensor, _name, _host_reader(_name))
    for _name in ("numpy", "__array__"):
        setattr(Tensor, _name, _no_numpy(_name))
    Tensor.__repr__ = _repr_with_device()
