"""Interoperability: files ranvier.save writes load with the `safetensors` package (NumPy and
PyTorch front ends), and files those write load with ranvier.load. Skipped when the packages
are not installed."""
import numpy as np
import pytest

import ranvier
from helpers import from_np, rand_np, to_np

safetensors_numpy = pytest.importorskip("safetensors.numpy")

NP = {ranvier.float32: np.float32, ranvier.float64: np.float64, ranvier.float16: np.float16,
      ranvier.int64: np.int64, ranvier.int32: np.int32, ranvier.uint8: np.uint8,
      ranvier.bool: np.bool_}


def arrays(seed=0):
    rng = np.random.default_rng(seed)
    out = {}
    for i, (rd, nd) in enumerate(NP.items()):
        shape = [(), (0,), (3,), (2, 3), (2, 0, 1), (1, 2, 3), (4, 1), (5,)][i]
        out["layer%d.%s" % (i, nd.__name__)] = rand_np(shape, nd, rng)
    return out


def test_numpy_reads_what_ranvier_wrote(tmp_path):
    arrs = arrays()
    ranvier.save({k: from_np(v) for k, v in arrs.items()}, tmp_path / "r.safetensors")
    got = safetensors_numpy.load_file(str(tmp_path / "r.safetensors"))
    assert set(got) == set(arrs)
    for k, v in arrs.items():
        assert got[k].dtype == v.dtype and got[k].shape == v.shape
        np.testing.assert_array_equal(got[k], v)


def test_nested_names_visible_to_safetensors(tmp_path):
    w = rand_np((2, 2), np.float32)
    ranvier.save({"model": {"fc.weight": from_np(w)}, "optim": {"state": {0: {"m": from_np(w)}}},
                  "epoch": 3}, tmp_path / "n")
    got = safetensors_numpy.load_file(str(tmp_path / "n"))
    assert set(got) == {"model.fc.weight", "optim.state.0.m"}
    np.testing.assert_array_equal(got["model.fc.weight"], w)


def test_ranvier_reads_what_numpy_wrote(tmp_path):
    arrs = arrays(1)
    safetensors_numpy.save_file(arrs, str(tmp_path / "s.safetensors"), metadata={"k": "v"})
    got = ranvier.load(tmp_path / "s.safetensors")
    assert set(got) == set(arrs)
    for k, v in arrs.items():
        assert tuple(got[k].shape) == v.shape
        np.testing.assert_array_equal(to_np(got[k]), v)
    data = safetensors_numpy.save(arrs)
    tensors, meta = ranvier._C._st_load_bytes(data, "mem")
    assert {n for n, _ in tensors} == set(arrs)


def test_torch_round_trip(tmp_path):
    torch = pytest.importorskip("torch")
    safetensors_torch = pytest.importorskip("safetensors.torch")
    rng = np.random.default_rng(2)
    a = rand_np((3, 4), np.float32, rng)
    ref = {"w": torch.from_numpy(a).to(torch.bfloat16), "h": torch.from_numpy(a).half(),
           "i": torch.arange(5), "b": torch.tensor([True, False]), "s": torch.tensor(2.5)}
    safetensors_torch.save_file(ref, str(tmp_path / "t.safetensors"))
    got = ranvier.load(tmp_path / "t.safetensors")
    for k, v in ref.items():
        np.testing.assert_array_equal(to_np(got[k]), v.float().numpy() if k in "wh" else v.numpy())
    assert got["w"].dtype == ranvier.bfloat16 and got["h"].dtype == ranvier.float16
    ranvier.save({"model": got}, tmp_path / "back.safetensors")
    back = safetensors_torch.load_file(str(tmp_path / "back.safetensors"))
    for k, v in ref.items():
        assert back["model." + k].dtype == v.dtype
        assert torch.equal(back["model." + k], v)
