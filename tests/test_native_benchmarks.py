"""The native benchmark binaries (benchmarks/native/bench_{mlp,cnn,lstm,gpt}): each runs a few
steps and prints its one-line result, and with --check its per-step losses equal the Python
workload's (benchmarks/workloads.py) from the same seed: both draw their weights and data from
the same default generator in the same order and run the same ops. Nothing is built here: set
RANVIER_BENCH_DIR to the build's benchmarks folder (build/bench/benchmarks after
`cmake -S . -B build/bench -G Ninja -DRANVIER_BUILD_BENCHMARKS=ON -DRANVIER_CUDA=OFF &&
cmake --build build/bench`); without it the file is skipped."""
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import ranvier

BENCH_DIR = os.environ.get("RANVIER_BENCH_DIR", "")
pytestmark = pytest.mark.skipif(not BENCH_DIR, reason="RANVIER_BENCH_DIR is not set")

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "benchmarks"))
import workloads  # noqa: E402

THREADS = 2
# (binary, extra args, python workload, unit, units per step, label in the printed line)
CASES = {
    "mlp": ("bench_mlp", [], workloads.mlp, "samples", 128, "C++"),
    "mlp-raw": ("bench_mlp", ["--raw"], workloads.mlp_raw, "samples", 128, "raw ops, C++"),
    "cnn": ("bench_cnn", [], workloads.cnn, "images", 64, "C++"),
    "lstm": ("bench_lstm", [], workloads.lstm, "tokens", 32 * 64, "C++"),
    "gpt": ("bench_gpt", [], workloads.gpt, "tokens", 16 * 64, "C++"),
}
LINE = re.compile(r"^(\w+) train step \(([^)]*)\)\s+(\d+) (\w+)/s\s+\((\d+\.\d{3}) ms/step\)"
                  r"\s+loss (\S+) -> (\S+)$")


def _run(exe, *args):
    path = os.path.join(BENCH_DIR, exe)
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} is missing: RANVIER_BENCH_DIR must hold the built binaries")
    return subprocess.run([path, *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("name", list(CASES))
def test_three_steps_print_one_result_line(name):
    exe, extra, _, unit, units, label = CASES[name]
    proc = _run(exe, "--steps", "3", "--threads", str(THREADS), *extra)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1, proc.stdout
    m = LINE.match(lines[0])
    assert m, lines[0]
    assert m.group(1) == name.split("-")[0]
    assert m.group(2) == label
    assert m.group(4) == unit
    rate, ms = float(m.group(3)), float(m.group(5))
    # the rate and the step time describe the same median step
    assert rate > 0 and ms > 0
    assert rate * ms * 1e-3 == pytest.approx(units, rel=0.01)
    first, last = float(m.group(6)), float(m.group(7))
    assert np.isfinite(first) and np.isfinite(last) and last < first


@pytest.mark.parametrize("name", list(CASES))
def test_check_losses_match_the_python_workload(name):
    exe, extra, builder, *_ = CASES[name]
    proc = _run(exe, "--check", "--steps", "3", "--threads", str(THREADS), *extra)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    native = []
    for k, line in enumerate(proc.stdout.strip().splitlines(), 1):
        m = re.fullmatch(r"step (\d+) loss (\S+)", line)
        assert m and int(m.group(1)) == k, line
        native.append(float(m.group(2)))
    assert len(native) == 3
    saved = ranvier.get_num_threads()
    ranvier.set_num_threads(THREADS)
    try:
        step, _ = builder(ranvier)
        python = [float(step().item()) for _ in range(3)]
    finally:
        ranvier.set_num_threads(saved)
    # same weights, data and ops: equal up to the 9 printed digits (a different draw order or
    # initialisation bound would move the first loss by far more)
    np.testing.assert_allclose(native, python, rtol=1e-6)


@pytest.mark.parametrize("args, message", [
    (["--steps", "0"], "positive integer"),
    (["--threads", "x"], "positive integer"),
    (["--steps"], "missing value"),
    (["--bogus"], "unknown argument --bogus"),
    (["--raw"], "unknown argument --raw"),  # bench_mlp's flag only
])
def test_bad_arguments_are_refused(args, message):
    proc = _run("bench_cnn", *args)
    assert proc.returncode == 2
    assert message in proc.stderr and "usage:" in proc.stderr
    assert proc.stdout == ""
