"""Re-exports the ops bound in C++ (ranvier._C) as ranvier.<name>."""
from ranvier import _C as _C

__all__ = [n for n in dir(_C) if not n.startswith("_") and n not in (
    "Tensor", "dtype", "device", "Node", "RemovableHandle", "Generator")]
globals().update({n: getattr(_C, n) for n in __all__})
