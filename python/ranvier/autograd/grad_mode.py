"""no_grad, enable_grad, set_grad_enabled and inference_mode: context managers and decorators."""
import functools

from ranvier import _C

is_grad_enabled = _C.is_grad_enabled


class _GradModeBase:
    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__(*self._args()):
                return fn(*args, **kwargs)
        return wrapper

    def _args(self):
        return ()


class no_grad(_GradModeBase):
    """Disables gradient recording inside the block (or the decorated function)."""

    def __enter__(self):
        self._prev = _C.is_grad_enabled()
        _C._set_grad_enabled(False)

    def __exit__(self, *exc):
        _C._set_grad_enabled(self._prev)
        return False


class enable_grad(_GradModeBase):
    """Enables gradient recording inside the block, even within no_grad."""

    def __enter__(self):
        self._prev = _C.is_grad_enabled()
        _C._set_grad_enabled(True)

    def __exit__(self, *exc):
        _C._set_grad_enabled(self._prev)
        return False


class set_grad_enabled(_GradModeBase):
    """Sets grad mode on or off: as a function call, a context manager or a decorator."""

    def __init__(self, mode):
        self._mode = bool(mode)
        self._prev = _C.is_grad_enabled()
        _C._set_grad_enabled(self._mode)

    def _args(self):
        return (self._mode,)

    def __enter__(self):
        pass

    def __exit__(self, *exc):
        _C._set_grad_enabled(self._prev)
        return False

    def __call__(self, fn):
        _C._set_grad_enabled(self._prev)
        return super().__call__(fn)


class inference_mode(_GradModeBase):
    """Like no_grad, for inference-only code (mode=False leaves grad mode as it is)."""

    def __init__(self, mode=True):
        self._mode = bool(mode)

    def _args(self):
        return (self._mode,)

    def __enter__(self):
        self._prev = (_C.is_grad_enabled(), _C.is_inference_mode_enabled())
        if self._mode:
            _C._set_grad_enabled(False)
            _C._set_inference_mode(True)

    def __exit__(self, *exc):
        _C._set_grad_enabled(self._prev[0])
        _C._set_inference_mode(self._prev[1])
        return False
