"""`python -m ranvier.train` end to end on MNIST-1D (generated, no download): the log and the
checkpoint it writes, exact resume after a kill, clean Ctrl-C, bad arguments."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import ranvier as rv
from ranvier.train import main

ROOT_ENV = "RANVIER_TEST_DATA"


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return os.environ.get(ROOT_ENV) or str(tmp_path_factory.mktemp("data"))


def run(argv):
    lines = []
    code = main(argv, out=lines.append)
    return code, lines


def small(root, out, *extra):
    return ["--root", root, "--out", str(out), "--epochs", "3", "--threads", "1",
            "--no-progress", "--model", "mlp", *extra]


def params(path):
    state = rv.load(str(path))["model"]
    return {k: v.numpy().copy() for k, v in state.items()}


def test_training_writes_log_and_checkpoint(root, tmp_path):
    code, lines = run(small(root, tmp_path))
    assert code == 0
    recs = [json.loads(l) for l in open(tmp_path / "log.jsonl")]
    epochs = [r for r in recs if "epoch" in r]
    assert [r["epoch"] for r in epochs] == [1, 2, 3]
    assert epochs[-1]["train_loss"] < epochs[0]["train_loss"]  # it learns
    final = recs[-1]
    assert final["final"] == "test" and final["published"] == 0.68
    assert 0.1 < final["accuracy"] <= 1.0
    assert any(l.startswith("test loss") and "(published: 0.68)" in l for l in lines)
    assert os.path.exists(tmp_path / "checkpoint.safetensors")


def test_resume_after_kill_gives_the_same_parameters(root, tmp_path):
    full, part = tmp_path / "full", tmp_path / "part"
    assert run(small(root, full, "--epochs", "30"))[0] == 0
    # The same run in a subprocess, killed once its first checkpoint exists...
    args = [sys.executable, "-m", "ranvier.train"] + small(root, part, "--epochs", "30")
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ckpt = part / "checkpoint.safetensors"
    deadline = time.monotonic() + 120
    while not ckpt.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    first = rv.load(str(ckpt))
    assert first["epoch"] < 30  # it was killed before the end
    # ...then resumed: the same final parameters as the uninterrupted run.
    assert run(small(root, part, "--epochs", "30", "--resume"))[0] == 0
    a, b = params(full / "checkpoint.safetensors"), params(ckpt)
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


def test_ctrl_c_saves_a_checkpoint_and_resume_finishes(root, tmp_path):
    args = [sys.executable, "-m", "ranvier.train"] + small(root, tmp_path, "--epochs", "400")
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    log = tmp_path / "log.jsonl"
    deadline = time.monotonic() + 120
    while not log.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, out
    assert "checkpoint saved" in out
    state = rv.load(str(tmp_path / "checkpoint.safetensors"))
    assert 1 <= state["epoch"] < 400
    code, lines = run(small(root, tmp_path, "--epochs", str(state["epoch"] + 1), "--resume"))
    assert code == 0
    assert any("resumed from" in l for l in lines)


@pytest.mark.parametrize("argv,match", [
    (["--dataset", "no-such-data"], "unknown dataset"),
    (["--model", "gpt"], "text"),
])
def test_bad_choices_are_reported(root, tmp_path, argv, match):
    code, lines = run(["--root", root, "--out", str(tmp_path), "--no-progress"] + argv)
    assert code == 2
    assert match in lines[-1]


def test_resume_without_checkpoint_is_an_error(root, tmp_path):
    code, lines = run(small(root, tmp_path, "--resume"))
    assert code == 2 and "no checkpoint" in lines[-1]


def test_resume_from_a_corrupt_checkpoint_is_an_error(root, tmp_path):
    assert run(small(root, tmp_path, "--epochs", "1"))[0] == 0
    ckpt = tmp_path / "checkpoint.safetensors"
    ckpt.write_bytes(ckpt.read_bytes()[:100])  # truncated
    code, lines = run(small(root, tmp_path, "--resume"))
    assert code == 2 and "--resume" in lines[-1] and "checkpoint.safetensors" in lines[-1]


def test_resume_with_another_model_is_an_error(root, tmp_path):
    assert run(small(root, tmp_path, "--epochs", "1"))[0] == 0  # an mlp checkpoint
    code, lines = run(small(root, tmp_path, "--resume") + ["--model", "cnn"])
    assert code == 2 and "--resume" in lines[-1]


def test_mnist1d_training_set_is_shifted_and_validation_is_not(root):
    from ranvier.train import data as tdata
    from ranvier.data import datasets as D
    plain = D.MNIST1D(root, train=True)
    rv.manual_seed(0)
    splits = tdata.load("mnist1d", root, val_fraction=0.1, seed=0)
    assert splits.augmented
    n = len(plain[0][0])
    shifts = set()
    for k in range(60):
        x, y = splits.train[k]
        i = splits.train.indices[k]
        ref = plain[i][0].numpy()
        assert y == plain[i][1]
        found = [s for s in range(-5, 6)
                 if np.array_equal(np.asarray(x), np.concatenate(
                     [np.zeros(max(s, 0), np.float32), ref[max(-s, 0):n - max(s, 0)],
                      np.zeros(max(-s, 0), np.float32)]))]
        assert found, k
        shifts.update(found)
    assert len(shifts) > 5  # many different shifts, not a constant one
    for k in range(20):
        x, _ = splits.val[k]
        np.testing.assert_array_equal(np.asarray(x), plain[splits.val.indices[k]][0].numpy())
    off = tdata.load("mnist1d", root, val_fraction=0.0, augment=False)
    assert not off.augmented
    np.testing.assert_array_equal(np.asarray(off.train[3][0]), plain[3][0].numpy())


def test_augmentation_and_label_smoothing_options(root, tmp_path):
    code, lines = run(small(root, tmp_path / "a", "--epochs", "1"))
    assert code == 0 and "label smoothing 0.1" in lines[0] and "augmentation on" in lines[0]
    code, lines2 = run(small(root, tmp_path / "b", "--epochs", "1", "--no-augment",
                             "--label-smoothing", "0"))
    assert code == 0 and "label smoothing 0," in lines2[0] and "augmentation off" in lines2[0]
    losses = [json.loads(open(tmp_path / d / "log.jsonl").readline())["train_loss"]
              for d in ("a", "b")]
    assert losses[0] != losses[1]
    code, lines = run(small(root, tmp_path / "c", "--label-smoothing", "1.5"))
    assert code == 2 and "--label-smoothing" in lines[-1]
