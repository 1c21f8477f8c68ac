"""The benchmark runner's plumbing (benchmarks/run.py): one short run of two workloads in
ranvier alone, its table and JSON, the per-library dtype names, and its refusals."""
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
