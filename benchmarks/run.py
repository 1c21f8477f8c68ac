"""Side-by-side benchmark runner: each workload of BENCHMARKS.md runs in ranvier and, when it is
installed, PyTorch, in this one process, with the same thread count; the table shows both
figures and the ratio (higher is better for throughput, lower for latency). The two
libraries' steps alternate, so a change in machine load affects both alike.

    python benchmarks/run.py [--threads 2] [--steps 15] [--only sgemm mlp] [--json out.json]
"""
import argparse
import json
import statistics
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


def measure(builder, kwargs, libs, steps, warmup):
    """Median step time per library. The libraries' steps alternate (ranvier, torch, ranvier,
    ...) so that a change in machine load hits both alike."""
    built = {name: builder(lib, **kwargs) for name, lib in libs.items()}
    for _ in range(warmup):
        for step, _units in built.values():
            step()
    times = {name: [] for name in libs}
    for _ in range(steps):
        for name, (step, _units) in built.items():
            t0 = time.perf_counter()
            step()
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
    args = ap.parse_args(argv)

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

    only = [n for arg in args.only for n in arg.split(",") if n]
    names = [n for n in WORKLOADS if not only or n in only]
    rows = []
    for name in names:
        builder, kwargs, unit, kind, scale = WORKLOADS[name]
        row = {"workload": name, "unit": unit, "kind": kind}
        for lname, (med, units) in measure(builder, kwargs, libs, args.steps,
                                           args.warmup).items():
            row[lname] = figure(med, units, kind, scale)
        if "torch" in row:
            row["ratio"] = row["ranvier"] / row["torch"]  # rate: higher is better; latency: lower
        rows.append(row)

    print(f"threads={args.threads} steps={args.steps} (medians)")
    print(f"{'workload':<14}{'unit':>11}{'ranvier':>14}{'torch':>14}{'ratio':>9}")
    for row in rows:
        t = row.get("torch")
        ratio = row.get("ratio")
        print(f"{row['workload']:<14}{row['unit']:>11}{row['ranvier']:>14.2f}"
              f"{(f'{t:.2f}' if t is not None else '-'):>14}"
              f"{(f'{ratio:.2f}x' if ratio is not None else '-'):>9}")
    print("ratio = ranvier / torch (rate: higher is better; latency: lower is better)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"threads": args.threads, "steps": args.steps, "rows": rows}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
