"""The CPU allocator's block cache (ranvier.cpu; Note [CPU block cache]): reuse of freed large
blocks, the byte counters, empty_cache, the RANVIER_CPU_CACHE=0 switch, and fork safety."""
import os
import subprocess
import sys

import numpy as np
import pytest

import ranvier

LARGE = 1 << 20  # floats: 4 MiB, well above the cache's minimum block size


def _class_bytes(nbytes):
    # eight size classes per power of two, computed independently of the allocator
    top = nbytes.bit_length() - 1
    step = 1 << (top - 3)
    return -(-nbytes // step) * step


def test_freed_large_block_is_reused_and_values_are_fresh():
    a = ranvier.full((LARGE,), 3.0)
    ptr = a.data_ptr()
    del a
    b = ranvier.zeros(LARGE)  # the same size class: the cached block comes back
    assert b.data_ptr() == ptr
    np.testing.assert_array_equal(b.numpy(), np.zeros(LARGE, np.float32))


def test_counters_follow_live_tensors():
    ranvier.cpu.empty_cache()
    before = ranvier.cpu.memory_allocated()
    n = 300_001  # not a class boundary: rounded up
    a = ranvier.empty(n)
    grown = ranvier.cpu.memory_allocated() - before
    assert grown == _class_bytes(4 * n)
    assert 4 * n <= grown <= 4 * n * 1.125
    assert ranvier.cpu.max_memory_allocated() >= ranvier.cpu.memory_allocated()
    del a
    assert ranvier.cpu.memory_allocated() == before
    stats = ranvier.cpu.memory_stats()
    assert stats["cached_blocks"] >= 1
    assert ranvier.cpu.memory_reserved() >= before + grown


def test_empty_cache_hands_blocks_back():
    a = ranvier.empty(LARGE)
    del a
    reserved = ranvier.cpu.memory_reserved()
    freed = ranvier.cpu.empty_cache()
    assert freed >= 4 * LARGE
    assert ranvier.cpu.memory_reserved() == reserved - freed
    assert ranvier.cpu.memory_stats()["cached_blocks"] == 0
    assert ranvier.cpu.empty_cache() == 0


def test_reset_peak():
    a = ranvier.empty(2 * LARGE)
    del a
    assert ranvier.cpu.max_memory_allocated() >= 8 * LARGE
    ranvier.cpu.reset_peak_memory_stats()
    assert ranvier.cpu.max_memory_allocated() == ranvier.cpu.memory_allocated()


def test_small_blocks_are_not_cached():
    ranvier.cpu.empty_cache()
    a = ranvier.empty(100)  # 400 bytes: below the 1 KiB minimum
    del a
    assert ranvier.cpu.memory_stats()["cached_blocks"] == 0


def test_mid_sized_blocks_are_cached_and_reused():
    ranvier.cpu.empty_cache()
    a = ranvier.full((700,), 2.0)  # 2800 bytes: class 3072
    ptr = a.data_ptr()
    del a
    assert ranvier.cpu.memory_stats()["cached_blocks"] == 1
    assert ranvier.cpu.memory_reserved() - ranvier.cpu.memory_allocated() == _class_bytes(2800)
    b = ranvier.zeros(650)  # 2600 bytes: the same class, so the same block
    assert b.data_ptr() == ptr
    np.testing.assert_array_equal(b.numpy(), np.zeros(650, np.float32))


def _run(code, **env):
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=30, env={**os.environ, **env})
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_cache_can_be_switched_off():
    code = ("import ranvier\n"
            "a = ranvier.ones(1 << 20); del a\n"
            "s = ranvier.cpu.memory_stats()\n"
            "print(s['cache_enabled'], s['cached_blocks'], s['reserved_bytes'])")
    assert _run(code, RANVIER_CPU_CACHE="0") == "False 0 0"
    enabled, blocks, _ = _run(code).split()
    assert enabled == "True" and int(blocks) >= 1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_fork_while_another_thread_holds_the_cache_lock():
    # A thread holds the cache's lock (a test hook, GIL released) while the main thread forks;
    # the child must still be able to allocate a large block: the lock must never be
    # inherited held (a child stuck on it would hang until the timeout).
    code = (
        "import os, signal, threading, time, ranvier\n"
        "from ranvier import _C\n"
        "t = threading.Thread(target=_C._cpu_cache_hold_lock_for_testing, args=(1.0,))\n"
        "t.start(); time.sleep(0.3)\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    signal.alarm(10)  # a stuck child dies instead of lingering\n"
        "    ranvier.set_num_threads(1)  # (GNU OpenMP's pool does not survive fork)\n"
        "    x = ranvier.ones(1 << 18); os._exit(0 if x.numpy().sum() == 262144.0 else 1)\n"
        "_, status = os.waitpid(pid, 0)\n"
        "t.join()\n"
        "print(status)")
    assert _run(code) == "0"  # a child killed by the alarm reports a non-zero status
