"""Peak resident memory of each training workload, ranvier against PyTorch: every
(workload, library) pair runs in its own fresh process for a few steps, which reports its
peak resident set size (ru_maxrss). The figure includes the library's own code and data
(import cost), as a user sees it. This parent process imports neither library: Linux keeps
ru_maxrss across exec, so a child would start from the parent's size.

    python benchmarks/memory.py [--steps 5] [--threads 2] [--only cnn lstm]
"""
import argparse
import importlib.util
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TRAINING = ("mlp", "cnn", "lstm", "gpt")

CHILD = """
import json, resource, sys
sys.path.insert(0, {here!r})
import workloads
lib = __import__({lib!r})
lib.set_num_threads({threads})
step, _ = getattr(workloads, {name!r})(lib)
for _ in range({steps}):
    step()
print(json.dumps(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))
"""


def peak_mib(lib, name, steps, threads):
    code = CHILD.format(here=HERE, lib=lib, name=name, steps=steps, threads=threads)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--only", nargs="*", default=[])
    args = ap.parse_args(argv)
    names = [n for n in TRAINING if not args.only or n in args.only]
    libs = ["ranvier"]
    # (not imported here: a child's ru_maxrss starts from this process's size at fork, so
    # this process stays small)
    if importlib.util.find_spec("torch") is not None:
        libs.append("torch")
    else:
        print("(PyTorch not installed: ranvier figures only)", file=sys.stderr)
    print(f"{'workload':<10}" + "".join(f"{l + ' MiB':>14}" for l in libs) + f"{'ratio':>8}")
    rows = []
    for name in names:
        row = {"workload": name}
        for lib in libs:
            row[lib] = peak_mib(lib, name, args.steps, args.threads)
        ratio = row["ranvier"] / row["torch"] if "torch" in row else None
        rows.append(row)
        print(f"{name:<10}" + "".join(f"{row[l]:>14.1f}" for l in libs)
              + (f"{ratio:>7.2f}x" if ratio else ""))
    return rows


if __name__ == "__main__":
    main()
