"""Device moves on Tensor: ``to(device)``, ``cuda()``, ``cpu()``. (The host readers of a CUDA
tensor copy it to the CPU themselves: item / bool in C++, tolist and repr in ranvier/_tensor*.py;
numpy() raises TypeError like PyTorch.)

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
