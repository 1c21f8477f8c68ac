"""The benchmark runner's plumbing (benchmarks/run.py): one short run of two workloads in
ranvier alone, its table and JSON, the per-library dtype names, its refusals, and the --native
columns (shell scripts stand in for the native binaries)."""
import json
import os
import sys

import pytest

import ranvier

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "benchmarks"))
import run  # noqa: E402


def test_short_cpu_run_writes_rows(tmp_path, capsys):
    out = tmp_path / "r.json"
    assert run.main(["--no-torch", "--steps", "1", "--warmup", "0", "--threads", "1",
                     "--only", "overhead,sgemm-1024", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["device"] == "cpu"
    assert [r["workload"] for r in data["rows"]] == ["sgemm-1024", "overhead"]
    assert all(r["ranvier"] > 0 for r in data["rows"])
    assert "device=cpu" in capsys.readouterr().out


def test_dtype_names_become_each_librarys_dtypes():
    kw = run._lib_kwargs(ranvier, {"n": 8, "dtype": "bfloat16", "autocast": "float16"}, "cpu")
    assert kw == {"n": 8, "dtype": ranvier.bfloat16, "autocast": ranvier.float16,
                  "device": "cpu"}


def test_gpu_only_workloads_are_refused_on_cpu(capsys):
    assert run.main(["--no-torch", "--only", "gpt-124m"]) == 2
    assert "unknown workloads" in capsys.readouterr().err


@pytest.mark.skipif(ranvier.cuda.is_available(), reason="checks the no-GPU refusal")
def test_cuda_run_needs_a_device(capsys):
    assert run.main(["--no-torch", "--device", "cuda", "--only", "overhead"]) == 2
    assert "no usable CUDA device" in capsys.readouterr().err


# ---------------------------------------------------------------- --native DIR
def _fake_binary(folder, name, body):
    """A stand-in for a native benchmark: a shell script that logs its arguments to args.txt
    in its folder, then runs body."""
    path = folder / name
    path.write_text(f'#!/bin/sh\necho "{name} $*" >> "{folder}/args.txt"\n{body}\n')
    path.chmod(0o755)
    return path


def _run_native(directory, only, json_out):
    """run.main with the native binaries of `directory`, one step on one thread, no torch."""
    return run.main(["--no-torch", "--steps", "1", "--warmup", "0", "--threads", "1",
                     "--only", only, "--native", str(directory), "--json", str(json_out)])


def _header_line(out):
    return next(line for line in out.splitlines() if line.startswith("workload"))


def test_native_column_and_python_cost(tmp_path, capsys):
    _fake_binary(tmp_path, "bench_mlp",
                 'echo "mlp train step (C++)     20000 samples/s  (6.400 ms/step)  '
                 'loss 2.3050 -> 2.2610"')
    out = tmp_path / "r.json"
    assert _run_native(tmp_path, "mlp-raw,mlp,overhead", out) == 0
    # one run per training workload, with the runner's threads and steps (mlp-raw: --raw)
    assert (tmp_path / "args.txt").read_text().splitlines() == [
        "bench_mlp --threads 1 --steps 1 --raw", "bench_mlp --threads 1 --steps 1"]
    rows = {r["workload"]: r for r in json.loads(out.read_text())["rows"]}
    for name in ("mlp-raw", "mlp"):
        assert rows[name]["native"] == 20000.0
        assert rows[name]["native_ms_per_step"] == pytest.approx(6.4)
        # the Python step time over the native one
        python_seconds = 128 / rows[name]["ranvier"]
        assert rows[name]["python_over_native"] == pytest.approx(python_seconds / 6.4e-3,
                                                                 rel=1e-3)
    assert "native" not in rows["overhead"]
    text = capsys.readouterr().out
    assert _header_line(text).split()[-2:] == ["native", "py/native"]
    mlp_line = next(line for line in text.splitlines() if line.startswith("mlp "))
    assert mlp_line.split()[-2:] == ["20000.00", f"{rows['mlp']['python_over_native']:.2f}x"]
    overhead_line = next(line for line in text.splitlines() if line.startswith("overhead"))
    assert overhead_line.split()[-2:] == ["-", "-"]
    assert "the cost of Python" in text


def test_without_native_the_table_is_unchanged(capsys):
    assert run.main(["--no-torch", "--steps", "1", "--warmup", "0", "--threads", "1",
                     "--only", "overhead"]) == 0
    text = capsys.readouterr().out
    assert _header_line(text).split() == ["workload", "unit", "ranvier", "torch", "ratio",
                                          "GFLOP/s", "(torch)"]
    assert "native" not in text


def test_native_failures_are_reported(tmp_path, capsys):
    # bench_mlp fails its loss check; bench_cnn is missing
    _fake_binary(tmp_path, "bench_mlp",
                 'echo "mlp train step (C++)  1 samples/s  (1.000 ms/step)  loss 2.0 -> 2.1"\n'
                 'echo "mlp: loss check failed: the loss did not go down" >&2\nexit 1')
    out = tmp_path / "r.json"
    assert _run_native(tmp_path, "mlp,cnn", out) == 1
    err = capsys.readouterr().err
    assert "--native mlp: bench_mlp exited 1" in err and "loss check failed" in err
    assert "--native cnn:" in err and "bench_cnn not found" in err
    rows = json.loads(out.read_text())["rows"]
    assert all("native" not in r and r["ranvier"] > 0 for r in rows)


def test_native_refuses_cuda(capsys):
    assert run.main(["--no-torch", "--device", "cuda", "--native", "x"]) == 2
    assert "CPU only" in capsys.readouterr().err
