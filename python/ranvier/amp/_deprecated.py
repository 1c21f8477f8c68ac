"""The older spellings ranvier.cuda.amp.{autocast, GradScaler} and ranvier.cpu.amp.{autocast,
GradScaler}: thin subclasses that fix the device and warn (FutureWarning), as PyTorch's do."""
import sys
import types
import warnings

import ranvier
from ranvier.amp.autocast_mode import autocast as _autocast
from ranvier.amp.grad_scaler import GradScaler as _GradScaler


def _make(device, default_dtype):
    class autocast(_autocast):
        def __init__(self, enabled=True, dtype=default_dtype, cache_enabled=True):
            warnings.warn(f"ranvier.{device}.amp.autocast(args...) is deprecated; use "
                          f"ranvier.amp.autocast('{device}', args...) instead.", FutureWarning,
                          stacklevel=2)
            super().__init__(device, dtype=dtype, enabled=enabled, cache_enabled=cache_enabled)

    class GradScaler(_GradScaler):
        def __init__(self, init_scale=2.0**16, growth_factor=2.0, backoff_factor=0.5,
                     growth_interval=2000, enabled=True):
            warnings.warn(f"ranvier.{device}.amp.GradScaler(args...) is deprecated; use "
                          f"ranvier.amp.GradScaler('{device}', args...) instead.",
                          FutureWarning, stacklevel=2)
            super().__init__(device, init_scale=init_scale, growth_factor=growth_factor,
                             backoff_factor=backoff_factor, growth_interval=growth_interval,
                             enabled=enabled)

    mod = types.ModuleType(f"ranvier.{device}.amp",
                           f"Deprecated aliases of ranvier.amp fixed to device '{device}'.")
    autocast.__module__ = GradScaler.__module__ = mod.__name__
    autocast.__qualname__, GradScaler.__qualname__ = "autocast", "GradScaler"
    mod.autocast, mod.GradScaler = autocast, GradScaler
    sys.modules[mod.__name__] = mod
    return mod


cpu_amp = _make("cpu", ranvier.bfloat16)
cuda_amp = _make("cuda", ranvier.float16)
