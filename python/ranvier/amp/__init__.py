"""ranvier.amp: automatic mixed precision: `autocast` regions (autocast_mode.py, the op lists
in _policies.py) and `GradScaler` (grad_scaler.py), with PyTorch's names and semantics."""
from ranvier.amp.autocast_mode import (autocast, is_autocast_available,  # noqa: F401
                                       is_autocast_enabled, get_autocast_dtype)
from ranvier.amp.grad_scaler import GradScaler  # noqa: F401
from ranvier.amp import _policies  # noqa: F401

__all__ = ["autocast", "GradScaler", "is_autocast_available"]
