"""Side-by-side benchmark runner: each workload of BENCHMARKS.md runs in ranvier and, when it is
installed, PyTorch, in this one process, with the same thread count; the table shows both
figures and the ratio (higher is better for throughput, lower for latency). The two
libraries' steps alternate, so a change in machine load affects both alike.

    python benchmarks/run.py [--threads 2] [--steps 15] [--only sgemm mlp] [--json out.json]
    python benchmarks/run.py --device cuda     # the GPU table: the same workloads, the 4096
                                               # GEMMs (float32, TF32, bfloat16), gpt-124m
    python benchmarks/run.py --native build/bench/benchmarks   # adds the C++ binaries' figures
On CUDA every step ends with a device synchronisation in both libraries. With --native DIR the
training workloads that have a native binary (DIR/bench_<name>, built with
-DRANVIER_BUILD_BENCHMARKS=ON) also run it with the same threads and steps, after the Python
measurement, and the table gains two columns: its figure and python/native, the ranvier
Python step time over the C++ step time (the cost of Python; 1.00 = none).
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time

sys.path.insert(0, __import__("os").path.dirname(__file__))
import workloads  # noqa: E402

# name -> (builder, kwargs, figure name, kind): kind "rate" = units per second (higher is
# better), "latency" = microseconds per unit (lower is better)
WORKLOADS = {
    "sgemm-1024": (workloads.sgemm, {"n": 1024}, "GFLOP/s", "rate", 1e-9),
    "sgemm-2048": (workloads.sgemm, {"n": 2048}, "GFLOP/s", "rate", 1e-9),
    "overhead": (workloads.overhead, {}, "us/op", "latency", 1e6),
    "mlp-raw": (workloads.mlp_raw, {}, "samples/s", "rate", 1.0),
    "mlp": (workloads.mlp, {}, "samples/s", "rate", 1.0),
    "cnn": (workloads.cnn, {}, "images/s", "rate", 1.0),
    "infer1": (workloads.infer1, {}, "us/call", "latency", 1e6),
    "lstm": (workloads.lstm, {}, "tokens/s", "rate", 1.0),
    "gpt": (workloads.gpt, {}, "tokens/s", "rate", 1.0),
}

# Added on CUDA (shared/BENCHMARKS.md): the GEMM at 4096 in float32, TF32 and bfloat16, and
# gpt-124m (GPT-2 small's shape, bfloat16 autocast). The dtype is given by name and looked up
# in each library.
CUDA_WORKLOADS = {
    "sgemm-4096": (workloads.sgemm, {"n": 4096}, "GFLOP/s", "rate", 1e-9),
    "sgemm-4096-tf32": (workloads.sgemm, {"n": 4096, "tf32": True}, "GFLOP/s", "rate", 1e-9),
    "gemm-4096-bf16": (workloads.sgemm, {"n": 4096, "dtype": "bfloat16"}, "GFLOP/s", "rate",
                       1e-9),
    "gpt-124m": (workloads.gpt, {"batch": 8, "ctx": 1024, "vocab": 50257, "d": 768, "heads": 12,
                                 "layers": 12, "autocast": "bfloat16"}, "tokens/s", "rate", 1.0),
}


# Model FLOPs per unit of a training step (multiply-adds of the forward pass x 2 FLOPs x 3 for
# forward + backward), for the achieved GFLOP/s column (llm.c-style utilisation):
#   mlp: 784*512 + 512*256 + 256*10 = 535,040 MACs per sample
#   cnn: 28*28*32*9 + 14*14*64*288 + 3136*128 + 128*10 = 4,241,152 MACs per image
#   lstm: 1024*(128 + 256) + 256*96 = 417,792 MACs per token
#   gpt: 4 layers x (128*384 + 128*128 + 2*128*512 + 2*64*128 attention) + 128*96
#        = 864,256 MACs per token (attention counted over the full 64-token window)
TRAIN_FLOPS = {"mlp": 6 * 535_040, "mlp-raw": 6 * 535_040, "cnn": 6 * 4_241_152,
               "lstm": 6 * 417_792, "gpt": 6 * 864_256}


# workload -> the native binary and its extra arguments (--native DIR)
NATIVE = {"mlp-raw": ("bench_mlp", ["--raw"]), "mlp": ("bench_mlp", []),
          "cnn": ("bench_cnn", []), "lstm": ("bench_lstm", []), "gpt": ("bench_gpt", [])}
# "... <rate> <unit>/s  (<ms> ms/step) ...", the line each training binary prints
_NATIVE_LINE = re.compile(r"([0-9.]+) [a-z]+/s\s+\(([0-9.]+) ms/step\)")


def run_native(directory, name, threads, steps):
    """Runs the native binary of workload `name`; returns (rate per second, step seconds), or
    raises RuntimeError saying why there is none."""
    exe, extra = NATIVE[name]
    path = os.path.join(directory, exe)
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"{path} not found (build with -DRANVIER_BUILD_BENCHMARKS=ON)")
    # OpenBLAS's own worker threads (never given work: OpenBLAS runs its jobs on ranvier's
    # OpenMP threads) spin for ~0.1 s after the library loads, which is the whole measurement
    # of a fresh process; OPENBLAS_THREAD_TIMEOUT=4 makes them sleep at once. (In the Python
    # process they have long gone to sleep by the time a workload runs.)
    env = dict(os.environ)
    env.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")
    proc = subprocess.run([path, "--threads", str(threads), "--steps", str(steps)] + extra,
                          capture_output=True, text=True, env=env)
    match = _NATIVE_LINE.search(proc.stdout)
    if proc.returncode != 0 or match is None:
        raise RuntimeError(f"{' '.join([exe] + extra)} exited {proc.returncode}: "
                           f"{(proc.stdout + proc.stderr).strip()}")
    return float(match.group(1)), float(match.group(2)) * 1e-3


def _lib_kwargs(lib, kwargs, device):
    """kwargs for one library: the device, dtype names as that library's dtypes."""
    out = dict(kwargs, device=device)
    for key in ("dtype", "autocast"):
        if isinstance(out.get(key), str):
            out[key] = getattr(lib, out[key])
    return out


def measure(builder, kwargs, libs, steps, warmup, device="cpu"):
    """Median step time per library. The libraries' steps alternate (ranvier, torch, ranvier,
    ...) so that a change in machine load hits both alike. On CUDA a step ends when the device
    is done (a synchronisation after it)."""
    built = {name: builder(lib, **_lib_kwargs(lib, kwargs, device)) for name, lib in libs.items()}
    sync = {name: (lib.cuda.synchronize if device == "cuda" else (lambda: None))
            for name, lib in libs.items()}
    for _ in range(warmup):
        for name, (step, _units) in built.items():
            step()
            sync[name]()
    times = {name: [] for name in libs}
    for _ in range(steps):
        for name, (step, _units) in built.items():
            t0 = time.perf_counter()
            step()
            sync[name]()
            times[name].append(time.perf_counter() - t0)
    return {name: (statistics.median(times[name]), built[name][1]) for name in libs}


def figure(median, units, kind, scale):
    if kind == "rate":
        return units / median * scale
    return median / units * scale


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=15)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--only", nargs="*", default=[],
                    help="workload names, separated by spaces or commas")
    ap.add_argument("--json", default="")
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--native", default="", metavar="DIR",
                    help="also run DIR/bench_<name> for " + ", ".join(NATIVE))
    args = ap.parse_args(argv)
    if args.native and args.device != "cpu":
        print("--native: the native binaries run on the CPU only", file=sys.stderr)
        return 2

    import ranvier
    libs = {"ranvier": ranvier}
    if not args.no_torch:
        try:
            import torch
            libs["torch"] = torch
        except ImportError:
            print("(PyTorch not installed: ranvier figures only)", file=sys.stderr)
    for lib in libs.values():
        lib.set_num_threads(args.threads)

    if args.device == "cuda":
        for lname, lib in libs.items():
            if not lib.cuda.is_available():
                print(f"--device cuda: {lname} has no usable CUDA device", file=sys.stderr)
                return 2
    table = dict(WORKLOADS, **(CUDA_WORKLOADS if args.device == "cuda" else {}))
    only = [n for arg in args.only for n in arg.split(",") if n]
    unknown = [n for n in only if n not in table]
    if unknown:
        print(f"unknown workloads for --device {args.device}: {unknown}", file=sys.stderr)
        return 2
    names = [n for n in table if not only or n in only]
    rows = []
    native_failed = False
    for name in names:
        builder, kwargs, unit, kind, scale = table[name]
        row = {"workload": name, "unit": unit, "kind": kind}
        for lname, (med, units) in measure(builder, kwargs, libs, args.steps, args.warmup,
                                           args.device).items():
            row[lname] = figure(med, units, kind, scale)
        if "torch" in row:
            row["ratio"] = row["ranvier"] / row["torch"]  # rate: higher is better; latency: lower
        if name in TRAIN_FLOPS:
            for lname in libs:
                row[f"{lname}_gflops"] = row[lname] * TRAIN_FLOPS[name] * 1e-9
        if args.native and name in NATIVE:
            try:
                rate, seconds = run_native(args.native, name, args.threads, args.steps)
            except RuntimeError as e:
                print(f"--native {name}: {e}", file=sys.stderr)
                native_failed = True
            else:
                row["native"] = rate
                row["native_ms_per_step"] = seconds * 1e3
                # both rates count the same units per step: time ratio = native / python rate
                row["python_over_native"] = rate / row["ranvier"]
        rows.append(row)

    def num(v, fmt):
        return format(v, fmt) if v is not None else "-"

    def native_cells(row):
        cost = row.get("python_over_native")
        mark = "x" if cost is not None else ""
        return f"{num(row.get('native'), '.2f'):>14}{num(cost, '.2f') + mark:>11}"

    print(f"device={args.device} threads={args.threads} steps={args.steps} (medians)")
    print(f"{'workload':<14}{'unit':>11}{'ranvier':>14}{'torch':>14}{'ratio':>9}"
          f"{'GFLOP/s':>10}{'(torch)':>9}"
          + (f"{'native':>14}{'py/native':>11}" if args.native else ""))
    for row in rows:
        print(f"{row['workload']:<14}{row['unit']:>11}{row['ranvier']:>14.2f}"
              f"{num(row.get('torch'), '.2f'):>14}"
              f"{num(row.get('ratio'), '.2f') + ('x' if 'ratio' in row else ''):>9}"
              f"{num(row.get('ranvier_gflops'), '.1f'):>10}{num(row.get('torch_gflops'), '.1f'):>9}"
              + (native_cells(row) if args.native else ""))
    print("ratio = ranvier / torch (rate: higher is better; latency: lower is better); GFLOP/s: "
          "model FLOPs of a training step / step time")
    if args.native:
        print("native = the C++ binary of the workload (no Python); py/native = ranvier's Python "
              "step time / the C++ step time (the cost of Python)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"device": args.device, "threads": args.threads, "steps": args.steps,
                       "rows": rows}, f, indent=2)
    return 1 if native_failed else 0


if __name__ == "__main__":
    sys.exit(main())
