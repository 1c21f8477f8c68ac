"""Embedding / EmbeddingBag: lookup vs NumPy, gradients (padding_idx row stays zero),
max_norm renormalisation, from_pretrained, index errors."""
import numpy as np
import pytest

import ranvier as rv
import ranvier.nn as nn
import ranvier.nn.functional as F
from helpers import assert_close, from_np, gradcheck, to_np


def test_embedding_lookup_and_grad(device):
    w = np.random.default_rng(0).standard_normal((6, 3)).astype(np.float32)
    idx = np.array([[0, 2, 2], [5, 1, 0]])
    wt = from_np(w, device, requires_grad=True)
    out = F.embedding(from_np(idx, device), wt)
    assert_close(out, w[idx])
    g = np.random.default_rng(1).standard_normal((2, 3, 3)).astype(np.float32)
    out.backward(from_np(g, device))
    expect = np.zeros_like(w)
    np.add.at(expect, idx, g)
    assert_close(wt.grad, expect, rtol=1e-5, atol=1e-6)
    assert gradcheck(lambda ww: F.embedding(from_np(idx), ww), w.astype(np.float64))


def test_embedding_padding_idx():
    rv.manual_seed(0)
    emb = nn.Embedding(5, 4, padding_idx=1)
    assert np.all(to_np(emb.weight)[1] == 0)
    assert np.any(to_np(emb.weight)[0] != 0)
    idx = rv.tensor([[1, 2], [1, 1]])
    emb(idx).sum().backward()
    grad = to_np(emb.weight.grad)
    assert np.all(grad[1] == 0) and np.all(grad[2] == 1)
    assert nn.Embedding(5, 4, padding_idx=-1).padding_idx == 4
    with pytest.raises(ValueError, match="Padding_idx must be within num_embeddings"):
        nn.Embedding(5, 4, padding_idx=5)


def test_embedding_max_norm_renormalises_rows_in_place():
    w = np.array([[3.0, 4.0], [0.3, 0.4], [6.0, 8.0]], np.float32)
    emb = nn.Embedding.from_pretrained(from_np(w), max_norm=1.0)
    out = emb(rv.tensor([0, 1]))
    got = to_np(emb.weight)
    np.testing.assert_allclose(np.linalg.norm(got[0]), 1.0, rtol=1e-5)
    np.testing.assert_allclose(got[1], w[1])  # already within max_norm
    np.testing.assert_allclose(got[2], w[2])  # not looked up: untouched
    assert_close(out, got[:2])


def test_from_pretrained_freeze():
    w = from_np(np.arange(6, dtype=np.float32).reshape(3, 2))
    emb = nn.Embedding.from_pretrained(w)
    assert not emb.weight.requires_grad
    assert nn.Embedding.from_pretrained(w, freeze=False).weight.requires_grad
    assert_close(emb(rv.tensor([2])), np.array([[4, 5]], np.float32))
    assert repr(nn.Embedding(10, 3, padding_idx=0)) == "Embedding(10, 3, padding_idx=0)"
    with pytest.raises(ValueError, match="2-dimensional"):
        nn.Embedding.from_pretrained(rv.zeros(3))


def test_embedding_index_errors():
    emb = nn.Embedding(4, 2)
    with pytest.raises(IndexError, match="index 4 is out of range"):
        emb(rv.tensor([0, 4]))
    with pytest.raises(IndexError, match="index -1 is out of range"):
        emb(rv.tensor([-1]))
    with pytest.raises(RuntimeError, match="int64 or int32"):
        emb(rv.tensor([0.0]))
    assert tuple(emb(rv.zeros(0, 3, dtype=rv.int64)).shape) == (0, 3, 2)


def test_embedding_bag_modes():
    w = np.random.default_rng(2).standard_normal((7, 3)).astype(np.float32)
    bag = nn.EmbeddingBag.from_pretrained(from_np(w), mode="sum")
    inp = np.array([1, 2, 4, 5, 4, 3])
    offs = np.array([0, 2, 2])
    out = bag(from_np(inp), from_np(offs))
    expect = np.stack([w[[1, 2]].sum(0), np.zeros(3, np.float32), w[[4, 5, 4, 3]].sum(0)])
    assert_close(out, expect, rtol=1e-5, atol=1e-6)
    mean = F.embedding_bag(from_np(inp.reshape(2, 3)), from_np(w), mode="mean")
    assert_close(mean, w[inp.reshape(2, 3)].mean(1), rtol=1e-5, atol=1e-6)
    mx = F.embedding_bag(from_np(inp.reshape(3, 2)), from_np(w), mode="max")
    assert_close(mx, w[inp.reshape(3, 2)].max(1))
    with pytest.raises(ValueError, match="mode"):
        F.embedding_bag(from_np(inp.reshape(2, 3)), from_np(w), mode="median")


def test_embedding_matches_torch():
    torch = pytest.importorskip("torch")
    t = torch.nn.Embedding(6, 3, padding_idx=2)
    r = nn.Embedding(6, 3, padding_idx=2)
    r.load_state_dict({"weight": rv.from_numpy(t.weight.detach().numpy().copy())})
    idx = np.array([[0, 2, 5], [1, 1, 3]])
    assert_close(r(from_np(idx)), t(torch.from_numpy(idx)).detach().numpy())


def test_embedding_bag_offsets_options_and_weights():
    w = np.random.default_rng(3).standard_normal((5, 2)).astype(np.float32)
    inp = np.array([0, 1, 2, 3, 4])
    psw = np.array([1.0, 2.0, 0.5, -1.0, 3.0], np.float32)
    out = F.embedding_bag(from_np(inp), from_np(w), from_np(np.array([0, 2, 5])), mode="sum",
                          per_sample_weights=from_np(psw), include_last_offset=True)
    expect = np.stack([w[0] + 2 * w[1], 0.5 * w[2] - w[3] + 3 * w[4]])
    assert_close(out, expect, rtol=1e-5, atol=1e-6)
    padded = F.embedding_bag(from_np(np.array([[0, 1], [1, 1]])), from_np(w), mode="mean",
                             padding_idx=1)
    assert_close(padded, np.stack([w[0], np.zeros(2, np.float32)]))
    with pytest.raises(NotImplementedError, match="per_sample_weights"):
        F.embedding_bag(from_np(inp), from_np(w), from_np(np.array([0])), mode="mean",
                        per_sample_weights=from_np(psw))
    wt = from_np(w, requires_grad=True)
    F.embedding_bag(from_np(np.array([[0, 1], [1, 4]])), wt, mode="mean").sum().backward()
    expect_g = np.zeros_like(w)
    expect_g[[0, 4]] = 0.5
    expect_g[1] = 1.0
    assert_close(wt.grad, expect_g)


def test_embedding_scale_grad_by_freq():
    w = np.random.default_rng(4).standard_normal((4, 2))
    idx = np.array([0, 2, 2, 2, 3, 0])
    wt = from_np(w, requires_grad=True)
    out = F.embedding(from_np(idx), wt, scale_grad_by_freq=True)
    assert_close(out, w[idx])
    out.sum().backward()
    expect = np.zeros_like(w)
    expect[[0, 2, 3]] = 1.0  # each row's summed gradient divided by its count
    assert_close(wt.grad, expect, rtol=1e-12)
    m = nn.Embedding(4, 2, scale_grad_by_freq=True)
    assert "scale_grad_by_freq=True" in repr(m)
