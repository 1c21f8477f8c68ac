"""Per-kernel GPU time of one training step of a CUDA workload, ranvier's or PyTorch's, through
torch.profiler (CUPTI sees every kernel of the process, ranvier's included). Needs PyTorch
with CUDA.

    python benchmarks/cuda_profile.py                 # gpt-124m, ranvier
    python benchmarks/cuda_profile.py --lib torch     # the same step in PyTorch
    python benchmarks/cuda_profile.py --workload lstm --rows 20
"""
import argparse
import collections
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import workloads  # noqa: E402

GPT_124M = {"batch": 8, "ctx": 1024, "vocab": 50257, "d": 768, "heads": 12, "layers": 12}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", choices=["ranvier", "torch"], default="ranvier")
    ap.add_argument("--workload", default="gpt-124m",
                    choices=["gpt-124m", "gpt", "mlp", "cnn", "lstm"])
    ap.add_argument("--rows", type=int, default=30)
    args = ap.parse_args()
    import torch
    from torch.profiler import ProfilerActivity, profile
    if args.lib == "ranvier":
        import ranvier as lib
    else:
        lib = torch
    if args.workload == "gpt-124m":
        step = workloads.gpt(lib, device="cuda", autocast=lib.bfloat16, **GPT_124M)[0]
    else:
        step = getattr(workloads, args.workload)(lib, device="cuda")[0]
    for _ in range(2):
        step()
    lib.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as p:
        step()
        lib.cuda.synchronize()
    print(p.key_averages().table(sort_by="cuda_time_total", row_limit=args.rows,
                                 max_name_column_width=90))
    groups = collections.defaultdict(list)
    for e in p.events():
        if "CUDA" in str(getattr(e, "device_type", "")):
            groups[e.name[:70]].append(e.device_time_total)
    print("per call (us): kernel, calls, total, the 8 longest")
    for name, ts in sorted(groups.items(), key=lambda kv: -sum(kv[1]))[:args.rows]:
        ts.sort(reverse=True)
        print("%-70s %4d %9.0f  %s" % (name, len(ts), sum(ts),
                                        " ".join("%.0f" % t for t in ts[:8])))


if __name__ == "__main__":
    main()
