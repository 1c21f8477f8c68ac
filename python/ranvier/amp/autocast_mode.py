"""ranvier.autocast: regions where chosen ops run in lower precision (float16 / bfloat16).

The state (enabled and dtype per device type, the cast cache flag, the nesting depth) is
thread-local and lives in C++ (csrc/python/autocast.cpp); this module is the Python face of it:
the `autocast` context manager / decorator and the query functions. Which op does what is the
table in ranvier/amp/_policies.py.
"""
import functools
import warnings

import ranvier
from ranvier import _C

__all__ = ["autocast", "is_autocast_available", "is_autocast_enabled", "get_autocast_dtype",
           "set_autocast_enabled", "set_autocast_dtype", "is_autocast_cache_enabled",
           "set_autocast_cache_enabled", "clear_autocast_cache"]

_DEVICE_TYPES = ("cpu", "cuda")
_SUPPORTED = {"cpu": ("float16", "bfloat16"), "cuda": ("float16", "bfloat16")}


def _device_type(device_type, fn):
    if not isinstance(device_type, str):
        raise ValueError(f"{fn}: expected `device_type` of type `str`, got: `{type(device_type)}`")
    if device_type not in _DEVICE_TYPES:
        raise RuntimeError(f"{fn}: expected device_type 'cpu' or 'cuda', but got "
                           f"'{device_type}'")
    return device_type


def is_autocast_available(device_type):
    """Whether autocast can be used for device_type ('cpu' and 'cuda' can)."""
    return isinstance(device_type, str) and device_type in _DEVICE_TYPES


def is_autocast_enabled(device_type=None):
    """Whether autocast is on for device_type in this thread (no argument: 'cuda', as PyTorch)."""
    return _C._autocast_is_enabled(_device_type("cuda" if device_type is None else device_type,
                                                "is_autocast_enabled"))


def get_autocast_dtype(device_type):
    """The dtype autocast casts to on device_type (bfloat16 for 'cpu', float16 for 'cuda' unless
    a region chose another)."""
    return _C._autocast_get_dtype(_device_type(device_type, "get_autocast_dtype"))


def set_autocast_enabled(device_type, enabled):
    _C._autocast_set_enabled(_device_type(device_type, "set_autocast_enabled"), bool(enabled))


def set_autocast_dtype(device_type, dtype):
    _C._autocast_set_dtype(_device_type(device_type, "set_autocast_dtype"), dtype)


def is_autocast_cache_enabled():
    """Whether regions keep one lower-precision cast per parameter (see docs/amp.md)."""
    return _C._autocast_is_cache_enabled()


def set_autocast_cache_enabled(enabled):
    _C._autocast_set_cache_enabled(bool(enabled))


def clear_autocast_cache():
    _C._autocast_clear_cache()


class autocast:
    """Context manager and decorator: inside, the ops of the lower-precision list cast their
    floating inputs to `dtype`, the ops of the float32 list run in float32, and the "promote"
    ops run in the widest input type (ranvier/amp/_policies.py lists them per device type).

        with ranvier.autocast("cpu", dtype=ranvier.bfloat16):
            loss = loss_fn(model(x), y)

    dtype: None for the device's current autocast dtype (bfloat16 on 'cpu', float16 on 'cuda').
    enabled=False turns autocast off inside an enclosing region. cache_enabled (None: the global
    flag) keeps one cast per parameter for the whole outermost region."""

    def __init__(self, device_type, dtype=None, enabled=True, cache_enabled=None):
        self.device = _device_type(device_type, "autocast")
        self.fast_dtype = get_autocast_dtype(self.device) if dtype is None else dtype
        if not isinstance(self.fast_dtype, ranvier.dtype):
            raise TypeError(f"autocast: dtype must be a ranvier dtype (e.g. ranvier.bfloat16), "
                            f"but got {self.fast_dtype!r}")
        if not isinstance(enabled, bool):
            raise TypeError(f"autocast: enabled must be a bool, but got {enabled!r}")
        self._cache_enabled = (is_autocast_cache_enabled() if cache_enabled is None
                               else bool(cache_enabled))
        self._enabled = enabled
        if enabled and self.device == "cuda" and not ranvier.cuda.is_available():
            warnings.warn("autocast: device_type 'cuda' was asked for, but CUDA is not "
                          "available; autocast is disabled for this region.", stacklevel=2)
            self._enabled = False
        name = str(self.fast_dtype).replace("ranvier.", "")
        if self._enabled and name not in _SUPPORTED[self.device]:
            warnings.warn(f"autocast: {self.device} autocast supports float16 and bfloat16, but "
                          f"got {self.fast_dtype}; autocast is disabled for this region.",
                          stacklevel=2)
            self._enabled = False

    def __enter__(self):
        self._prev = (_C._autocast_is_enabled(self.device), _C._autocast_get_dtype(self.device),
                      _C._autocast_is_cache_enabled())
        _C._autocast_set_enabled(self.device, self._enabled)
        if self._enabled:
            _C._autocast_set_dtype(self.device, self.fast_dtype)
        _C._autocast_set_cache_enabled(self._cache_enabled)
        _C._autocast_increment_nesting()
        return self

    def __exit__(self, exc_type, exc_val, exc_tb):
        if _C._autocast_decrement_nesting() == 0:
            _C._autocast_clear_cache()
        enabled, dtype, cache = self._prev
        _C._autocast_set_enabled(self.device, enabled)
        _C._autocast_set_dtype(self.device, dtype)
        _C._autocast_set_cache_enabled(cache)
        return False

    def __call__(self, func):
        """Decorator form: each call of func runs inside a region with these settings."""
        if not callable(func):
            raise TypeError(f"autocast: expected a callable to decorate, but got {func!r}")
        settings = (self.device, self.fast_dtype, self._enabled, self._cache_enabled)

        @functools.wraps(func)
        def decorate_autocast(*args, **kwargs):
            # a fresh region per call: the decorated function may recurse or run in threads
            with autocast(settings[0], dtype=settings[1], enabled=settings[2],
                          cache_enabled=settings[3]):
                return func(*args, **kwargs)

        return decorate_autocast

    def __repr__(self):
        return (f"autocast(device_type={self.device!r}, dtype={self.fast_dtype}, "
                f"enabled={self._enabled}, cache_enabled={self._cache_enabled})")
