"""ranvier.cuda on a machine without CUDA (skipped where a GPU is usable): availability, the
memory statistics, and the clear RuntimeErrors of everything that needs a device; device moves
to the CPU; loading the CUDA library through the real path when it was built."""
import os
import subprocess
import sys

import numpy as np
import pytest

import ranvier
from helpers import assert_close

pytestmark = pytest.mark.skipif(ranvier.cuda.is_available(),
                                reason="a CUDA device is usable: see test_cuda_device.py")

NO_CUDA = r"built without CUDA|no CUDA device"


def test_not_available():
    assert ranvier.cuda.is_available() is False
    assert ranvier.cuda.device_count() == 0


def test_memory_stats_are_zero():
    assert ranvier.cuda.memory_allocated() == 0
    assert ranvier.cuda.max_memory_allocated() == 0
    assert ranvier.cuda.memory_reserved() == 0
    assert ranvier.cuda.memory_allocated(0) == 0
    ranvier.cuda.reset_peak_memory_stats()  # no-ops without CUDA
    ranvier.cuda.empty_cache()
    assert ranvier.cuda.memory_reserved() == 0


@pytest.mark.parametrize("call", [
    lambda: ranvier.cuda.current_device(),
    lambda: ranvier.cuda.set_device(0),
    lambda: ranvier.cuda.set_device("cuda:0"),
    lambda: ranvier.cuda.synchronize(),
])
def test_device_functions_raise(call):
    with pytest.raises(RuntimeError, match=NO_CUDA):
        call()


@pytest.mark.parametrize("move", [
    lambda t: t.to("cuda"),
    lambda t: t.to("cuda:1"),
    lambda t: t.to(ranvier.device("cuda")),
    lambda t: t.to(device="cuda", dtype=ranvier.float64),
    lambda t: t.cuda(),
    lambda t: t.cuda(0),
])
def test_moves_to_cuda_raise(move):
    t = ranvier.ones(2, 3)
    with pytest.raises(RuntimeError, match=NO_CUDA):
        move(t)


@pytest.mark.parametrize("make", [
    lambda: ranvier.zeros(2, device="cuda"),
    lambda: ranvier.empty(2, 3, device="cuda"),
    lambda: ranvier.full((2,), 1.5, device="cuda"),
    lambda: ranvier.tensor([1.0, 2.0], device="cuda"),
    lambda: ranvier.arange(4, device="cuda"),
])
def test_factories_on_cuda_raise(make):
    with pytest.raises(RuntimeError, match=r"cuda:0.*(built without CUDA|no CUDA device)"):
        make()


def test_moves_to_cpu():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    t = ranvier.tensor(a)
    assert t.cpu() is t
    assert t.to("cpu") is t
    assert t.to(ranvier.device("cpu")) is t
    d = t.to("cpu", ranvier.float64)
    assert d.dtype == ranvier.float64
    assert_close(d, a.astype(np.float64))
    assert_close(t.to(dtype=ranvier.int64), a.astype(np.int64))
    c = t.to("cpu", copy=True)
    assert c is not t
    assert_close(c, a)
    other = ranvier.zeros(1, dtype=ranvier.float64)
    assert t.to(other).dtype == ranvier.float64


def test_to_still_rejects_bad_device_strings():
    with pytest.raises((ValueError, RuntimeError)):
        ranvier.ones(2).to("tpu")


def _run(code, env_extra):
    env = dict(os.environ, **env_extra)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          timeout=120)


def test_unloadable_library_means_not_available(tmp_path):
    bogus = tmp_path / "libranvier_cuda.so"
    bogus.write_bytes(b"not a shared library")
    r = _run("import ranvier\n"
             "print(ranvier.cuda.is_available())\n"
             "try:\n"
             "    ranvier.ones(1).cuda()\n"
             "except RuntimeError as e:\n"
             "    print('ERR', e)\n", {"RANVIER_CUDA_LIBRARY": str(bogus)})
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "False"
    assert lines[1].startswith("ERR no CUDA device") and "could not be loaded" in lines[1]


def _built_cuda_library():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for cand in (os.path.join(os.path.dirname(ranvier._C.__file__), "lib", "libranvier_cuda.so"),
                 os.path.join(root, "build", "cuda-check", "libranvier_cuda.so")):
        if os.path.exists(cand):
            return cand
    return None


@pytest.mark.skipif(_built_cuda_library() is None, reason="libranvier_cuda was not built")
def test_real_library_without_gpu_loads_and_reports_no_device():
    # The CUDA runtime is linked statically: the library loads with no driver, finds no device
    # and registers nothing, so CPU work is unaffected.
    r = _run("import ranvier\n"
             "print(ranvier.cuda.is_available(), ranvier.cuda.device_count(),\n"
             "      ranvier.cuda.memory_allocated())\n"
             "print((ranvier.ones(3) + 1).tolist())\n"
             "try:\n"
             "    ranvier.zeros(2, device='cuda')\n"
             "except RuntimeError as e:\n"
             "    print('ERR', e)\n"
             "try:\n"
             "    ranvier.cuda.synchronize()\n"
             "except RuntimeError as e:\n"
             "    print('ERR', e)\n", {"RANVIER_CUDA_LIBRARY": _built_cuda_library()})
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "False 0 0"
    assert lines[1] == "[2.0, 2.0, 2.0]"
    assert lines[2].startswith("ERR cannot allocate on cuda:0")
    assert lines[3].startswith("ERR no CUDA device (")
