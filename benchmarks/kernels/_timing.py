"""What the kernel timing scripts of this folder share: repeated calls after warm-up, and the
libraries to compare (ranvier, and PyTorch when it is installed), and the command line of a
script whose cases are a dict of calls."""
import argparse
import statistics
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


def print_time_table(rows, threads, width=22):
    """rows: {case: {"ranvier": us, "torch": us (when measured)}}, printed with the ratio
    ranvier / torch (lower is better)."""
    print(f"threads={threads} (median us per call)")
    print(f"{'case':<{width}}{'ranvier':>10}{'torch':>10}{'ratio':>8}")
    for case, r in rows.items():
        t = r.get("torch")
        ratio = f"{r['ranvier'] / t:.2f}x" if t else "-"
        print(f"{case:<{width}}{r['ranvier']:>10.1f}{(t if t else float('nan')):>10.1f}{ratio:>8}")
    print("ratio = ranvier time / torch time (lower is better)")


def median_us_alternating(per_lib, reps, warmup=3):
    """per_lib: {library name: {case: fn}}. Each case is timed in every library before the next
    case (so that a noisy phase of the machine hits both); returns {case: {name: median us}}."""
    names = list(per_lib)
    rows = {}
    for case in per_lib[names[0]]:
        for name in names:
            ts = call_seconds(per_lib[name][case], reps, warmup=warmup)
            rows.setdefault(case, {})[name] = statistics.median(ts) * 1e6
    return rows


def run_cases(doc, cases, argv=None, threads=1, reps=20, warmup=3, width=22):
    """The command line of a script whose cases(lib) returns {case: fn}: parses --threads and
    --reps (doc's first line is the description), times each case in every library in turn
    and prints the table."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--threads", type=int, default=threads)
    ap.add_argument("--reps", type=int, default=reps)
    args = ap.parse_args(argv)
    per_lib = {name: cases(lib) for name, lib in libraries(args.threads).items()}
    print_time_table(median_us_alternating(per_lib, args.reps, warmup=warmup), args.threads,
                     width=width)
    return 0
