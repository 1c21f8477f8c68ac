"""ranvier.cuda: the CUDA device.

The CUDA kernels live in a separate library, ``lib/libranvier_cuda.so`` next to the core library,
built only on request (see docs/cuda.md). ``import ranvier`` loads it when it was installed and
asks the driver for devices; when it registers, CUDA tensors become possible. A missing library,
no driver or no GPU is not an error: :func:`is_available` is then False, the memory statistics
read 0, and anything that needs a device raises a RuntimeError saying why
("ranvier was built without CUDA" or "no CUDA device"). Set ``RANVIER_CUDA_LIBRARY`` to load the
library from another path.

The CUDA library needs cuBLAS, from the ``nvidia-cublas`` wheel (``pip install "ranvier[cuda]"``):
before loading libranvier_cuda, :func:`_preload_cublas` loads ``libcublasLt.so.13`` and
``libcublas.so.13`` from the ``nvidia`` package with RTLD_GLOBAL, so the library finds them
whatever its rpath (editable installs, build folders). Without the wheel, ``is_available()`` is
False and the reason says how to install it.
"""
import os as _os

from ranvier import _C

_lib = None
_count = 0
_reason = ("ranvier was built without CUDA (no libranvier_cuda next to the core library; "
           "see docs/cuda.md to build it)")
_tried = False


def _library_path():
    env = _os.environ.get("RANVIER_CUDA_LIBRARY")
    if env:
        return env
    return _os.path.join(_os.path.dirname(_C.__file__), "lib", "libranvier_cuda.so")


_CUBLAS_LIBS = ("libcublasLt.so.13", "libcublas.so.13")
_CUBLAS_HINT = ("cuBLAS (libcublas.so.13 from the nvidia-cublas wheel) was not found; "
                "install it with pip install \"ranvier[cuda]\" (or pip install nvidia-cublas)")


def _cublas_dirs():
    """The wheel's library folders: nvidia/cu13/lib of each `nvidia` package path."""
    try:
        import nvidia
    except ImportError:
        return []
    return [_os.path.join(p, "cu13", "lib") for p in getattr(nvidia, "__path__", [])]


def _preload_cublas():
    """Loads cuBLAS from the nvidia-cublas wheel (RTLD_GLOBAL) when the wheel is installed.
    Returns None when loaded or when there is no wheel (the rpath may still find it), else the
    loader's error text."""
    import ctypes as _ctypes
    for d in _cublas_dirs():
        paths = [_os.path.join(d, name) for name in _CUBLAS_LIBS]
        if not all(_os.path.exists(p) for p in paths):
            continue
        try:
            for p in paths:
                _ctypes.CDLL(p, mode=_ctypes.RTLD_GLOBAL)
        except OSError as e:
            return str(e)
        return None
    return None


def _load_error_reason(err, preload_err):
    """The reason for is_available() when libranvier_cuda could not be loaded."""
    text = str(err)
    if "cublas" in text.lower() or preload_err:
        detail = preload_err or text
        return "no CUDA device: %s (%s)" % (_CUBLAS_HINT, detail)
    return "no CUDA device: libranvier_cuda could not be loaded (%s)" % text


def _init():
    """Loads libranvier_cuda once; sets _lib/_count, or _reason when CUDA cannot be used."""
    global _lib, _count, _reason, _tried
    if _tried:
        return
    _tried = True
    path = _library_path()
    if not _os.path.exists(path):
        return
    import ctypes as _ctypes  # only when there is a library to load
    preload_err = _preload_cublas()
    try:
        lib = _ctypes.CDLL(path)
    except OSError as e:
        _reason = _load_error_reason(e, preload_err)
        return
    lib.ranvier_cuda_init.restype = _ctypes.c_int
    lib.ranvier_cuda_last_error.restype = _ctypes.c_char_p
    lib.ranvier_cuda_current_device.restype = _ctypes.c_int
    lib.ranvier_cuda_set_device.argtypes = [_ctypes.c_int]
    lib.ranvier_cuda_set_device.restype = _ctypes.c_int
    lib.ranvier_cuda_synchronize.argtypes = [_ctypes.c_int]
    lib.ranvier_cuda_synchronize.restype = _ctypes.c_int
    lib.ranvier_cuda_memory_stat.argtypes = [_ctypes.c_int, _ctypes.c_int]
    lib.ranvier_cuda_memory_stat.restype = _ctypes.c_ulonglong
    lib.ranvier_cuda_reset_peak.argtypes = [_ctypes.c_int]
    lib.ranvier_cuda_empty_cache.restype = _ctypes.c_ulonglong
    n = lib.ranvier_cuda_init()
    if n <= 0:
        why = (lib.ranvier_cuda_last_error() or b"").decode(errors="replace")
        _reason = ("no CUDA device (%s)" % why) if n == 0 else (
            "the CUDA library failed to register: %s" % why)
        return
    _lib, _count, _reason = lib, n, ""


def _last_error():
    return (_lib.ranvier_cuda_last_error() or b"").decode(errors="replace")


def _require():
    """RuntimeError with the reason when CUDA cannot be used."""
    _init()
    if _count <= 0:
        raise RuntimeError(_reason)


def _index(device, require=True):
    """The device index of None (current), an int, 'cuda', 'cuda:N' or a ranvier.device."""
    if require:
        _require()
    if device is None:
        return current_device() if _count > 0 else 0
    if isinstance(device, int) and not isinstance(device, bool):
        idx = device
    else:
        dev = device if isinstance(device, _C.device) else _C.device(device)
        if dev.type != "cuda":
            raise ValueError("Expected a cuda device, but got: %s" % dev)
        idx = dev.index if dev.index is not None else (current_device() if _count > 0 else 0)
    if _count > 0 and not 0 <= idx < _count:
        raise RuntimeError("CUDA error: invalid device ordinal %d (there are %d CUDA devices)"
                           % (idx, _count))
    return idx


def is_available():
    """Whether ranvier's CUDA library is loaded and found at least one device."""
    _init()
    return _count > 0


def device_count():
    """Number of CUDA devices ranvier can use (0 without CUDA)."""
    _init()
    return max(_count, 0)


def current_device():
    """Index of the current CUDA device."""
    _require()
    d = _lib.ranvier_cuda_current_device()
    if d < 0:
        raise RuntimeError("CUDA error: cannot query the current device")
    return d


def set_device(device):
    """Makes `device` (int, 'cuda:N' or ranvier.device) the current CUDA device."""
    idx = _index(device)
    if _lib.ranvier_cuda_set_device(idx) != 0:
        raise RuntimeError("CUDA error: %s" % _last_error())


def synchronize(device=None):
    """Waits for every queued kernel and copy on the device to finish."""
    idx = _index(device)
    if _lib.ranvier_cuda_synchronize(idx) != 0:
        raise RuntimeError("CUDA error: %s" % _last_error())


def _stat(device, which):
    _init()
    if _count <= 0:
        return 0
    return int(_lib.ranvier_cuda_memory_stat(_index(device), which))


def memory_allocated(device=None):
    """Bytes held by live tensors on the device (block sizes, rounded up to 512); 0 without CUDA."""
    return _stat(device, 0)


def max_memory_allocated(device=None):
    """Peak of memory_allocated since start or the last reset_peak_memory_stats(); 0 without CUDA."""
    return _stat(device, 1)


def memory_reserved(device=None):
    """Bytes ranvier holds from the driver: live blocks plus the cache; 0 without CUDA."""
    return _stat(device, 2)


def reset_peak_memory_stats(device=None):
    """Starts max_memory_allocated() again from the current allocation."""
    _init()
    if _count > 0:
        _lib.ranvier_cuda_reset_peak(_index(device))


def empty_cache():
    """Gives the cached free blocks back to the driver (blocks in use stay)."""
    _init()
    if _count > 0:
        _lib.ranvier_cuda_empty_cache()


_init()

from ranvier.cuda import _tensor_methods  # noqa: E402,F401  (Tensor.to / .cuda / .cpu)


def __getattr__(name):  # ranvier.cuda.amp: deprecated aliases of ranvier.amp (amp/_deprecated.py)
    if name == "amp":
        from ranvier.amp._deprecated import cuda_amp
        return cuda_amp
    raise AttributeError(f"module 'ranvier.cuda' has no attribute {name!r}")
