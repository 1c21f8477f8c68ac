"""ranvier.utils.data: PyTorch's import path for ranvier.data (this module is replaced by
ranvier.data itself in sys.modules, so both names give the same objects)."""
import sys as _sys

from ranvier import data as _data

_sys.modules[__name__] = _data
