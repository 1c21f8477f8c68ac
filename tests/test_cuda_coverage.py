"""Which kernel slots have a CUDA kernel: runs against the real libranvier_cuda without a GPU.

The library's ranvier_cuda_register_kernels_only() fills the CUDA kernel slots (function
pointers only: no device, no allocator), then `_C._kernel_slots()` lists every slot of the core
with whether it has a CPU and a CUDA kernel. The slots without a CUDA kernel must be exactly
KNOWN_MISSING: the test fails when a slot is newly missing (a new op without a CUDA kernel) and
when a listed slot got its kernel (take it off the list). The list must shrink to empty.

Needs the library: RANVIER_CUDA_LIBRARY pointing at a built libranvier_cuda.so, or the one next
to the core library (an install with RANVIER_CUDA=ON). .ci/cuda_build_check runs it.
"""
import ctypes
import os

import pytest

import ranvier
from ranvier import _C

KNOWN_MISSING = sorted("""
""".split())


def _library():
    path = ranvier.cuda._library_path()
    if not os.path.exists(path):
        pytest.skip("no libranvier_cuda (%s): build it with .ci/cuda_build_check" % path)
    lib = ctypes.CDLL(path)
    if not hasattr(lib, "ranvier_cuda_register_kernels_only"):
        pytest.skip("%s has no ranvier_cuda_register_kernels_only" % path)
    return lib


def test_every_slot_is_named_once():
    names = [name for name, _, _ in _C._kernel_slots()]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)
    assert len(names) >= 50 and "gemm" in names and "binary" in names


def test_every_slot_has_a_cpu_kernel():
    assert [name for name, cpu, _ in _C._kernel_slots() if not cpu] == []


def test_slots_without_cuda_kernel():
    lib = _library()
    lib.ranvier_cuda_register_kernels_only.restype = ctypes.c_int
    lib.ranvier_cuda_last_error.restype = ctypes.c_char_p
    rc = lib.ranvier_cuda_register_kernels_only()
    assert rc == 0, lib.ranvier_cuda_last_error()
    slots = _C._kernel_slots()
    missing = sorted(name for name, _, cuda in slots if not cuda)
    print("\nkernel slots without a CUDA kernel (%d of %d): %s"
          % (len(missing), len(slots), " ".join(missing) or "none"))
    newly_missing = sorted(set(missing) - set(KNOWN_MISSING))
    now_covered = sorted(set(KNOWN_MISSING) - set(missing))
    assert not newly_missing, ("slots without a CUDA kernel, not in KNOWN_MISSING: %s"
                               % newly_missing)
    assert not now_covered, ("slots in KNOWN_MISSING that have a CUDA kernel now (take them off "
                             "the list): %s" % now_covered)
