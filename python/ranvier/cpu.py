"""ranvier.cpu: the CPU device, and the CPU allocator's block cache.

Large blocks freed by tensors are kept for reuse by the next tensor of the same size class, so a
training loop does not map and page-fault its activations back in every step (docs/design.md,
Note [CPU block cache]). `empty_cache()` hands the cached blocks back to the system; setting
``RANVIER_CPU_CACHE=0`` in the environment before ranvier allocates anything turns the cache off.
The byte counts are those of the blocks (a request is rounded up to its size class)."""
from ranvier import _C


def is_available():
    """The CPU is always available."""
    return True


def device_count():
    return 1


def current_device():
    return "cpu"


def set_device(device):
    """Accepted for API compatibility; there is one CPU device."""


def synchronize(device=None):
    """CPU ops run synchronously: nothing to wait for."""


def empty_cache():
    """Returns the cached free blocks to the system; returns how many bytes that freed."""
    return _C._cpu_empty_cache()


def memory_stats():
    """A dict: allocated_bytes, peak_allocated_bytes, reserved_bytes (live + cached),
    cached_blocks, cache_enabled."""
    return dict(_C._cpu_memory_stats())


def memory_allocated(device=None):
    """Bytes held by live tensors' blocks."""
    return _C._cpu_memory_stats()["allocated_bytes"]


def max_memory_allocated(device=None):
    """The most memory_allocated() has been since start or the last reset_peak_memory_stats()."""
    return _C._cpu_memory_stats()["peak_allocated_bytes"]


def memory_reserved(device=None):
    """Bytes held by the allocator: live blocks plus cached free blocks."""
    return _C._cpu_memory_stats()["reserved_bytes"]


def reset_peak_memory_stats(device=None):
    _C._cpu_reset_peak_memory_stats()


def __getattr__(name):  # ranvier.cpu.amp: deprecated aliases of ranvier.amp (amp/_deprecated.py)
    if name == "amp":
        from ranvier.amp._deprecated import cpu_amp
        return cpu_amp
    raise AttributeError(f"module 'ranvier.cpu' has no attribute {name!r}")
