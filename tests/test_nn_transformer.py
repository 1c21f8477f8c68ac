"""Transformer layers: encoder layer vs a NumPy reference (post- and pre-norm), submodule and
parameter names, masks, eval determinism, gradients, errors, and (optionally) torch parity."""
import numpy as np
import pytest

import ranvier
import ranvier.nn as nn
from helpers import assert_close, from_np
from test_nn_attention import np_mha


def np_ln(x, w, b, eps=1e-5):
    mu = x.mean(-1, keepdims=True)
    var = x.var(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def _p(t):
    return t.detach().numpy().astype(np.float64)


def np_encoder_layer(layer, x, norm_first, mask=None):
    a = layer.self_attn
    prm = [_p(a.in_proj_weight), _p(a.in_proj_bias), _p(a.out_proj.weight),
           _p(a.out_proj.bias)]

    def sa(h):
        return np_mha(h, h, h, *prm, a.num_heads, mask)[0]

    def ff(h):
        hid = np.maximum(h @ _p(layer.linear1.weight).T + _p(layer.linear1.bias), 0)
        return hid @ _p(layer.linear2.weight).T + _p(layer.linear2.bias)

    n1 = lambda h: np_ln(h, _p(layer.norm1.weight), _p(layer.norm1.bias))  # noqa: E731
    n2 = lambda h: np_ln(h, _p(layer.norm2.weight), _p(layer.norm2.bias))  # noqa: E731
    if norm_first:
        x = x + sa(n1(x))
        return x + ff(n2(x))
    x = n1(x + sa(x))
    return n2(x + ff(x))


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_layer_vs_numpy(norm_first):
    ranvier.manual_seed(0)
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, norm_first=norm_first).eval()
    with ranvier.no_grad():
        layer.self_attn.in_proj_bias.normal_()
        layer.norm1.weight.normal_()
    x = np.random.default_rng(0).standard_normal((5, 3, 8))
    mask = np.triu(np.full((5, 5), -np.inf), 1)
    out = layer(from_np(x.astype(np.float32)), src_mask=from_np(mask.astype(np.float32)))
    exp = np_encoder_layer(layer, x, norm_first, mask)
    assert_close(out, exp.astype(np.float32), rtol=1e-4, atol=1e-4)


def test_encoder_layer_names():
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16)
    names = {n: tuple(p.shape) for n, p in layer.named_parameters()}
    assert names == {
        "self_attn.in_proj_weight": (24, 8), "self_attn.in_proj_bias": (24,),
        "self_attn.out_proj.weight": (8, 8), "self_attn.out_proj.bias": (8,),
        "linear1.weight": (16, 8), "linear1.bias": (16,), "linear2.weight": (8, 16),
        "linear2.bias": (8,), "norm1.weight": (8,), "norm1.bias": (8,), "norm2.weight": (8,),
        "norm2.bias": (8,)}
    mods = dict(layer.named_children())
    for name in ("dropout", "dropout1", "dropout2"):
        assert isinstance(mods[name], nn.Dropout)


def test_decoder_and_transformer_names_and_shapes():
    dec = nn.TransformerDecoderLayer(8, 2, dim_feedforward=16, batch_first=True)
    keys = set(dec.state_dict().keys())
    assert {"multihead_attn.in_proj_weight", "norm3.weight", "norm3.bias"} <= keys
    model = nn.Transformer(d_model=8, nhead=2, num_encoder_layers=2, num_decoder_layers=1,
                           dim_feedforward=16, batch_first=True)
    keys = set(model.state_dict().keys())
    assert "encoder.layers.1.self_attn.in_proj_weight" in keys
    assert "decoder.layers.0.multihead_attn.out_proj.weight" in keys
    assert "encoder.norm.weight" in keys and "decoder.norm.bias" in keys
    assert "encoder.layers.2.linear1.weight" not in keys
    src, tgt = ranvier.randn(2, 5, 8), ranvier.randn(2, 4, 8)
    mask = nn.Transformer.generate_square_subsequent_mask(4)
    out = model(src, tgt, tgt_mask=mask)
    assert tuple(out.shape) == (2, 4, 8)
    out.sum().backward()
    assert model.encoder.layers[0].linear1.weight.grad is not None


def test_square_subsequent_mask():
    m = nn.Transformer.generate_square_subsequent_mask(4)
    exp = np.triu(np.full((4, 4), -np.inf, dtype=np.float32), 1)
    assert_close(m, exp)


def test_eval_determinism_and_train_randomness():
    ranvier.manual_seed(3)
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, dropout=0.5), 2)
    x = ranvier.randn(4, 2, 8)
    enc.eval()
    np.testing.assert_array_equal(enc(x).detach().numpy(), enc(x).detach().numpy())
    enc.train()
    assert not np.array_equal(enc(x).detach().numpy(), enc(x).detach().numpy())


def test_decoder_causal_independence():
    # with a causal tgt_mask, output position 0 does not depend on later target positions
    ranvier.manual_seed(4)
    dec = nn.TransformerDecoder(nn.TransformerDecoderLayer(8, 2, 16, activation="gelu"), 2,
                                norm=nn.LayerNorm(8)).eval()
    mem = ranvier.randn(3, 1, 8)
    t = np.random.default_rng(1).standard_normal((4, 1, 8)).astype(np.float32)
    t2 = t.copy()
    t2[2:] += 1.0
    mask = nn.Transformer.generate_square_subsequent_mask(4)
    a = dec(from_np(t), mem, tgt_mask=mask, tgt_is_causal=True).detach().numpy()
    b = dec(from_np(t2), mem, tgt_mask=mask, tgt_is_causal=True).detach().numpy()
    np.testing.assert_allclose(a[:2], b[:2], rtol=1e-5, atol=1e-6)
    assert not np.allclose(a[2:], b[2:])


def test_transformer_errors():
    with pytest.raises(RuntimeError, match="activation should be relu/gelu, not tanh"):
        nn.TransformerEncoderLayer(8, 2, activation="tanh")
    with pytest.raises(ValueError, match=r"embed_dim \(8\) must be divisible by num_heads \(3\)"):
        nn.TransformerEncoderLayer(8, 3)
    model = nn.Transformer(d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=1,
                           dim_feedforward=8)
    with pytest.raises(RuntimeError, match=r"batch number of src and tgt.*\(3, 2, 8\)"):
        model(ranvier.randn(3, 2, 8), ranvier.randn(3, 3, 8))
    with pytest.raises(RuntimeError, match=r"d_model 8"):
        model(ranvier.randn(3, 2, 6), ranvier.randn(3, 2, 6))


def test_encoder_layer_vs_torch():
    torch = pytest.importorskip("torch")
    tl = torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True).eval()
    rl = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True).eval()
    rl.load_state_dict({k: from_np(v.detach().numpy()) for k, v in tl.state_dict().items()})
    x = np.random.default_rng(2).standard_normal((2, 5, 8)).astype(np.float32)
    kpm = np.zeros((2, 5), dtype=bool)
    kpm[1, 3:] = True
    with torch.no_grad():
        exp = tl(torch.from_numpy(x), src_key_padding_mask=torch.from_numpy(kpm)).numpy()
    out = rl(from_np(x), src_key_padding_mask=from_np(kpm))
    # torch's fast path leaves padded query positions unspecified; compare the kept rows
    assert_close(out[0], exp[0], rtol=1e-4, atol=1e-5)
    assert_close(out[1, :3], exp[1, :3], rtol=1e-4, atol=1e-5)
