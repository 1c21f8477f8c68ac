"""What the kernel timing scripts of this folder share: repeated calls after warm-up, and the
libraries to compare (ranvier, and PyTorch when it is installed)."""
import sys
import time


def call_seconds(fn, reps, warmup=3, clock=time.perf_counter):
    """Seconds of each of `reps` calls of fn, after `warmup` untimed calls."""
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(reps):
        t0 = clock()
        fn()
        ts.append(clock() - t0)
    return ts


def libraries(threads, with_torch=True):
    """{"ranvier": ranvier, "torch": torch} (torch only when asked for and installed), each set
    to `threads` threads."""
    import ranvier
    libs = {"ranvier": ranvier}
    if with_torch:
        try:
            import torch
            libs["torch"] = torch
        except ImportError:
            print("(PyTorch not installed: ranvier figures only)", file=sys.stderr)
    for lib in libs.values():
        lib.set_num_threads(threads)
    return libs
