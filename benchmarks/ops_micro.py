"""Per-op timings of hot CPU ops on one thread (best of 20, milliseconds), for comparing two
builds of ranvier (e.g. compiler flags): run it with each build's Python and compare the lines.

    python benchmarks/ops_micro.py
"""
import time, ranvier as rv
rv.set_num_threads(1)
rv.manual_seed(0)
x = rv.randn(2_000_000); y = rv.randn(2_000_000)
m = rv.randn(512, 1024); mi = rv.randint(0, 100, (2_000_000,))
lab = rv.randint(0, 1024, (512,))
w = rv.randn(1024, requires_grad=True)
def t(f, n=20):
    best = 1e9
    for _ in range(n):
        a = time.perf_counter(); f(); best = min(best, time.perf_counter() - a)
    return best * 1e3
cases = {
 "sum": lambda: x.sum(), "sum_dim0": lambda: m.sum(0), "max_dim1": lambda: m.max(1),
 "isum": lambda: mi.sum(), "add": lambda: x + y, "mul_s": lambda: x * 2.0, "exp": lambda: x.exp(),
 "relu": lambda: x.relu(), "cast": lambda: x.to(rv.float64), "softmax": lambda: m.softmax(1),
 "ce_fb": lambda: rv.nn.functional.cross_entropy(m * w, lab).backward(),
 "ln": lambda: rv.nn.functional.layer_norm(m, (1024,)), "cumsum": lambda: x.cumsum(0),
 "gelu": lambda: rv.nn.functional.gelu(x), "where": lambda: rv.where(x > 0, x, y),
}
print(" ".join(f"{k}={t(f):.3f}" for k, f in cases.items()))
