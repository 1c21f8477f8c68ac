"""Recurrent layers: cells and RNN/LSTM/GRU against a NumPy reference, float64 gradchecks,
parameter names/shapes, PackedSequence handling and error messages."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import ranvier
import ranvier.nn as nn
from ranvier.nn import _functional_rnn as FR
from ranvier.nn.utils.rnn import (pack_padded_sequence, pad_packed_sequence, pad_sequence,
                                  pack_sequence, PackedSequence)
from helpers import assert_close, from_np, to_np, gradcheck


# ---------------------------------------------------------------- NumPy reference
def _sig(x):
    return 1.0 / (1.0 + np.exp(-x))


def np_cell(mode, x, h, c, w_ih, w_hh, b_ih, b_hh, w_hr=None):
    gi = x @ w_ih.T + (b_ih if b_ih is not None else 0)
    gh = h @ w_hh.T + (b_hh if b_hh is not None else 0)
    if mode == "RNN_TANH":
        return np.tanh(gi + gh), None
    if mode == "RNN_RELU":
        return np.maximum(gi + gh, 0), None
    if mode == "LSTM":
        H = w_hh.shape[0] // 4
        g = gi + gh
        i, f, gg, o = (g[..., k * H:(k + 1) * H] for k in range(4))
        c2 = _sig(f) * c + _sig(i) * np.tanh(gg)
        h2 = _sig(o) * np.tanh(c2)
        if w_hr is not None:
            h2 = h2 @ w_hr.T
        return h2, c2
    H = w_hh.shape[0] // 3
    r = _sig(gi[..., :H] + gh[..., :H])
    z = _sig(gi[..., H:2 * H] + gh[..., H:2 * H])
    n = np.tanh(gi[..., 2 * H:] + r * gh[..., 2 * H:])
    return (1 - z) * n + z * h, None


def np_rnn(mode, x, h0, c0, weights, L, D, lengths=None):
    """x (T, B, I); weights[k] = (w_ih, w_hh, b_ih, b_hh, w_hr) numpy arrays."""
    T, B = x.shape[:2]
    lengths = [T] * B if lengths is None else lengths
    hn, cn = [], []
    for layer in range(L):
        outs = []
        for d in range(D):
            k = layer * D + d
            h = h0[k].copy()
            c = c0[k].copy() if c0 is not None else None
            y = np.zeros((T, B, h.shape[-1]))
            for b in range(B):
                hb = h[b:b + 1]
                cb = c[b:b + 1] if c is not None else None
                steps = range(lengths[b] - 1, -1, -1) if d == 1 else range(lengths[b])
                for t in steps:
                    hb, cb = np_cell(mode, x[t, b:b + 1], hb, cb, *weights[k])
                    y[t, b] = hb[0]
                h[b] = hb[0]
                if c is not None:
                    c[b] = cb[0]
            outs.append(y)
            hn.append(h)
            cn.append(c)
        x = np.concatenate(outs, axis=2)
    return x, np.stack(hn), (np.stack(cn) if c0 is not None else None)


def np_weights(m):
    D = 2 if m.bidirectional else 1
    out = []
    for layer in range(m.num_layers):
        for d in range(D):
            s = "_l%d%s" % (layer, "_reverse" if d else "")
            out.append(tuple(to_np(getattr(m, n + s)).astype(np.float64)
                             if getattr(m, n + s, None) is not None else None
                             for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh",
                                       "weight_hr")))
    return out


# ---------------------------------------------------------------- cells
@pytest.mark.parametrize("cls,mode,kw", [
    (nn.RNNCell, "RNN_TANH", {}), (nn.RNNCell, "RNN_RELU", {"nonlinearity": "relu"}),
    (nn.LSTMCell, "LSTM", {}), (nn.GRUCell, "GRU", {}), (nn.GRUCell, "GRU", {"bias": False})])
def test_cells_match_numpy(cls, mode, kw, device):
    ranvier.manual_seed(0)
    cell = cls(5, 4, **kw).to(device)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 5)).astype(np.float32)
    h = rng.standard_normal((3, 4)).astype(np.float32)
    c = rng.standard_normal((3, 4)).astype(np.float32)
    w = (to_np(cell.weight_ih), to_np(cell.weight_hh),
         to_np(cell.bias_ih) if cell.bias_ih is not None else None,
         to_np(cell.bias_hh) if cell.bias_hh is not None else None)
    eh, ec = np_cell(mode, x, h, c, *w)
    if mode == "LSTM":
        oh, oc = cell(from_np(x, device), (from_np(h, device), from_np(c, device)))
        assert_close(oc, ec.astype(np.float32), rtol=1e-5, atol=1e-5)
    else:
        oh = cell(from_np(x, device), from_np(h, device))
    assert_close(oh, eh.astype(np.float32), rtol=1e-5, atol=1e-5)
    # hx=None means zeros; unbatched input gives unbatched output
    z = np.zeros((1, 4), np.float32)
    eh0, _ = np_cell(mode, x[:1], z, z, *w)
    out = cell(from_np(x[0], device))
    out = out[0] if mode == "LSTM" else out
    assert tuple(out.shape) == (4,)
    assert_close(out, eh0[0].astype(np.float32), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("fn,G", [(FR.rnn_tanh_cell, 1), (FR.rnn_relu_cell, 1),
                                  (FR.gru_cell, 3)])
def test_cell_gradcheck(fn, G):
    rng = np.random.default_rng(2)
    arrays = [rng.standard_normal(s) * 0.5 for s in
              [(2, 3), (2, 4), (G * 4, 3), (G * 4, 4), (G * 4,), (G * 4,)]]
    assert gradcheck(lambda x, h, a, b, c, d: fn(x, h, a, b, c, d), *arrays)


def test_lstm_cell_gradcheck():
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal(s) * 0.5 for s in
              [(2, 3), (2, 4), (2, 4), (16, 3), (16, 4), (16,), (16,)]]

    def f(x, h, c, a, b, bi, bh):
        h2, c2 = FR.lstm_cell(x, (h, c), a, b, bi, bh)
        return h2 * 2 + c2
    assert gradcheck(f, *arrays)


# ---------------------------------------------------------------- sequence layers
@pytest.mark.parametrize("cls,mode,kw", [
    (nn.RNN, "RNN_TANH", {}), (nn.RNN, "RNN_RELU", {"nonlinearity": "relu"}),
    (nn.LSTM, "LSTM", {}), (nn.GRU, "GRU", {}),
    (nn.LSTM, "LSTM", {"num_layers": 2, "bidirectional": True}),
    (nn.GRU, "GRU", {"num_layers": 2, "bidirectional": True}),
    (nn.LSTM, "LSTM", {"num_layers": 2, "bidirectional": True, "proj_size": 2}),
    (nn.GRU, "GRU", {"num_layers": 2, "bias": False, "batch_first": True}),
])
def test_sequence_layers_match_numpy(cls, mode, kw, device):
    ranvier.manual_seed(0)
    m = cls(5, 3, **kw).double().to(device)
    L = m.num_layers
    D = 2 if m.bidirectional else 1
    Hout = m.proj_size if getattr(m, "proj_size", 0) else 3
    rng = np.random.default_rng(4)
    T, B = 4, 2
    x = rng.standard_normal((T, B, 5))
    h0 = rng.standard_normal((L * D, B, Hout))
    c0 = rng.standard_normal((L * D, B, 3))
    ey, eh, ec = np_rnn(mode, x, h0, c0 if mode == "LSTM" else None, np_weights(m), L, D)
    xin = x.transpose(1, 0, 2) if m.batch_first else x
    hx = (from_np(h0, device), from_np(c0, device)) if mode == "LSTM" else from_np(h0, device)
    y, hn = m(from_np(xin, device), hx)
    if mode == "LSTM":
        hn, cn = hn
        assert_close(cn, ec, rtol=1e-10, atol=1e-10)
    assert_close(y, ey.transpose(1, 0, 2) if m.batch_first else ey, rtol=1e-10, atol=1e-10)
    assert_close(hn, eh, rtol=1e-10, atol=1e-10)
    # no initial state: zeros; unbatched input
    ey0, eh0, _ = np_rnn(mode, x[:, :1], np.zeros_like(h0[:, :1]),
                         np.zeros_like(c0[:, :1]) if mode == "LSTM" else None,
                         np_weights(m), L, D)
    y1, h1 = m(from_np(x[:, 0], device))
    h1 = h1[0] if mode == "LSTM" else h1
    assert_close(y1, ey0[:, 0], rtol=1e-10, atol=1e-10)
    assert_close(h1, eh0[:, 0], rtol=1e-10, atol=1e-10)


def test_sequence_noncontiguous_input():
    ranvier.manual_seed(0)
    m = nn.GRU(5, 3).double()
    x = np.random.default_rng(5).standard_normal((3, 2, 5))
    ey, eh, _ = np_rnn("GRU", x, np.zeros((1, 2, 3)), None, np_weights(m), 1, 1)
    xt = from_np(x.transpose(1, 0, 2).copy()).transpose(0, 1)
    assert not xt.is_contiguous()
    y, h = m(xt)
    assert_close(y, ey, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("mode", ["LSTM", "GRU"])
def test_sequence_gradcheck(mode):
    ranvier.manual_seed(0)
    m = (nn.LSTM if mode == "LSTM" else nn.GRU)(3, 2, num_layers=2,
                                                bidirectional=True).double()
    names = [n for n, _ in m.named_parameters()]
    rng = np.random.default_rng(6)
    x = rng.standard_normal((3, 2, 3))
    h0 = rng.standard_normal((4, 2, 2))
    w = [to_np(p) for _, p in m.named_parameters()]

    def f(x, h, *ps):
        for n, p in zip(names, ps):
            m._parameters[n] = p
        hx = (h, h * 0.5) if mode == "LSTM" else h
        y, hn = m(x, hx)
        hn = hn[0] + hn[1] if mode == "LSTM" else hn
        return ranvier.cat([y.reshape(-1), hn.reshape(-1)])
    assert gradcheck(f, x, h0, *w)


def test_parameter_names_and_shapes():
    m = nn.LSTM(10, 20, num_layers=2, bidirectional=True, proj_size=5)
    got = [(n, tuple(p.shape)) for n, p in m.named_parameters()]
    exp = []
    for layer, isz in ((0, 10), (1, 10)):
        for sfx in ("", "_reverse"):
            s = "_l%d%s" % (layer, sfx)
            exp += [("weight_ih" + s, (80, isz)), ("weight_hh" + s, (80, 5)),
                    ("bias_ih" + s, (80,)), ("bias_hh" + s, (80,)), ("weight_hr" + s, (5, 20))]
    assert got == exp
    g = nn.GRU(4, 6, bias=False)
    assert [(n, tuple(p.shape)) for n, p in g.named_parameters()] == [
        ("weight_ih_l0", (18, 4)), ("weight_hh_l0", (18, 6))]
    c = nn.LSTMCell(3, 7)
    assert [(n, tuple(p.shape)) for n, p in c.named_parameters()] == [
        ("weight_ih", (28, 3)), ("weight_hh", (28, 7)), ("bias_ih", (28,)), ("bias_hh", (28,))]
    assert list(m.state_dict().keys()) == [n for n, _ in exp]


def test_default_init_range():
    ranvier.manual_seed(0)
    m = nn.GRU(7, 16, num_layers=2)
    bound = 1 / 4.0
    allv = np.concatenate([to_np(p).ravel() for p in m.parameters()])
    assert allv.min() >= -bound and allv.max() <= bound
    assert allv.min() < -0.2 and allv.max() > 0.2  # spread over the range, not all zero


def test_dropout_between_layers():
    ranvier.manual_seed(0)
    m = nn.GRU(4, 8, num_layers=2, dropout=0.5).double()
    x = from_np(np.random.default_rng(7).standard_normal((3, 2, 4)))
    m.eval()
    y1, _ = m(x)
    y2, _ = m(x)
    assert np.array_equal(to_np(y1), to_np(y2))
    ey, _, _ = np_rnn("GRU", to_np(x), np.zeros((2, 2, 8)), None, np_weights(m), 2, 1)
    assert_close(y1, ey, rtol=1e-10, atol=1e-10)
    m.train()
    y3, _ = m(x)
    assert not np.allclose(to_np(y3), ey)


# ---------------------------------------------------------------- packed sequences
def test_pack_pad_roundtrip():
    rng = np.random.default_rng(8)
    x = rng.standard_normal((4, 3, 2))
    lengths = [2, 4, 1]
    for b, n in enumerate(lengths):
        x[n:, b] = 0
    p = pack_padded_sequence(from_np(x), lengths, enforce_sorted=False)
    assert isinstance(p, PackedSequence)
    assert to_np(p.batch_sizes).tolist() == [3, 2, 1, 1]
    exp_data = np.concatenate([x[0, [1, 0, 2]], x[1, [1, 0]], x[2, [1]], x[3, [1]]])
    assert_close(p.data, exp_data)
    pad, lens = pad_packed_sequence(p, batch_first=True)
    assert to_np(lens).tolist() == lengths
    assert_close(pad, x.transpose(1, 0, 2))
    with pytest.raises(RuntimeError, match="sorted in decreasing order"):
        pack_padded_sequence(from_np(x), lengths)
    with pytest.raises(RuntimeError, match="greater than 0"):
        pack_padded_sequence(from_np(x), [4, 0, 1], enforce_sorted=False)


def test_pad_sequence():
    a = np.arange(6.0).reshape(3, 2)
    b = np.arange(2.0).reshape(1, 2) + 10
    out = pad_sequence([from_np(a), from_np(b)], batch_first=True, padding_value=-1.0)
    exp = np.array([a, np.concatenate([b, -np.ones((2, 2))])])
    assert_close(out, exp)
    out = pad_sequence([from_np(a), from_np(b)], padding_side="left")
    exp = np.stack([a, np.concatenate([np.zeros((2, 2)), b])], axis=1)
    assert_close(out, exp)
    p = pack_sequence([from_np(a), from_np(b)])
    assert to_np(p.batch_sizes).tolist() == [2, 1, 1]


@pytest.mark.parametrize("cls,mode", [(nn.LSTM, "LSTM"), (nn.GRU, "GRU"), (nn.RNN, "RNN_TANH")])
def test_packed_input(cls, mode):
    ranvier.manual_seed(0)
    m = cls(3, 4, num_layers=2, bidirectional=True, batch_first=True).double()
    rng = np.random.default_rng(9)
    lengths = [3, 5, 2]
    x = rng.standard_normal((3, 5, 3))  # batch first
    h0 = rng.standard_normal((4, 3, 4))
    c0 = rng.standard_normal((4, 3, 4))
    ey, eh, ec = np_rnn(mode, x.transpose(1, 0, 2), h0, c0 if mode == "LSTM" else None,
                        np_weights(m), 2, 2, lengths=lengths)
    p = pack_padded_sequence(from_np(x), lengths, batch_first=True, enforce_sorted=False)
    hx = (from_np(h0), from_np(c0)) if mode == "LSTM" else from_np(h0)
    out, hn = m(p, hx)
    assert isinstance(out, PackedSequence)
    y, lens = pad_packed_sequence(out, batch_first=True)
    assert to_np(lens).tolist() == lengths
    assert_close(y, ey.transpose(1, 0, 2), rtol=1e-10, atol=1e-10)
    if mode == "LSTM":
        hn, cn = hn
        assert_close(cn, ec, rtol=1e-10, atol=1e-10)
    assert_close(hn, eh, rtol=1e-10, atol=1e-10)


# ---------------------------------------------------------------- errors
def test_errors():
    m = nn.LSTM(10, 20)
    with pytest.raises(ValueError, match="LSTM: Expected input to be 2D or 3D, got 4D"):
        m(ranvier.zeros(2, 3, 4, 10))
    with pytest.raises(RuntimeError,
                       match=r"input.size\(-1\) must be equal to input_size. Expected 10, got 7"):
        m(ranvier.zeros(5, 3, 7))
    with pytest.raises(RuntimeError, match=r"Expected hidden\[0\] size \(1, 3, 20\), got"):
        m(ranvier.zeros(5, 3, 10), (ranvier.zeros(1, 4, 20), ranvier.zeros(1, 3, 20)))
    with pytest.raises(RuntimeError, match=r"Expected hidden\[1\] size \(1, 3, 20\), got"):
        m(ranvier.zeros(5, 3, 10), (ranvier.zeros(1, 3, 20), ranvier.zeros(1, 3, 21)))
    g = nn.GRU(10, 20)
    with pytest.raises(RuntimeError, match=r"GRU: Expected hidden size \(1, 3, 20\), got "
                                           r"\[1, 4, 20\]"):
        g(ranvier.zeros(5, 3, 10), ranvier.zeros(1, 4, 20))
    with pytest.raises(RuntimeError, match="hx should be 2D"):
        g(ranvier.zeros(5, 10), ranvier.zeros(1, 3, 20))
    c = nn.GRUCell(10, 20)
    with pytest.raises(ValueError, match="Expected input to be 1D or 2D, got 3D"):
        c(ranvier.zeros(1, 2, 10))
    with pytest.raises(RuntimeError, match="inconsistent input_size: got 7 expected 10"):
        c(ranvier.zeros(2, 7))
    with pytest.raises(RuntimeError, match=r"Expected hidden size \(2, 20\)"):
        c(ranvier.zeros(2, 10), ranvier.zeros(3, 20))
    with pytest.raises(ValueError, match="Unknown nonlinearity"):
        nn.RNN(3, 4, nonlinearity="gelu")
    with pytest.raises(ValueError, match="proj_size has to be smaller"):
        nn.LSTM(3, 4, proj_size=4)
    with pytest.raises(ValueError, match="dropout should be a number"):
        nn.GRU(3, 4, dropout=1.5)


# ---------------------------------------------------------------- against torch, if present
def test_lstm_matches_torch_weights():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    tm = torch.nn.LSTM(4, 5, num_layers=2, bidirectional=True, batch_first=True).double()
    m = nn.LSTM(4, 5, num_layers=2, bidirectional=True, batch_first=True).double()
    sd = {k: from_np(v.detach().numpy()) for k, v in tm.state_dict().items()}
    m.load_state_dict(sd)
    x = np.random.default_rng(10).standard_normal((2, 3, 4))
    ty, (th, tc) = tm(torch.from_numpy(x))
    y, (h, c) = m(from_np(x))
    assert_close(y, ty.detach().numpy(), rtol=1e-10, atol=1e-10)
    assert_close(h, th.detach().numpy(), rtol=1e-10, atol=1e-10)
    assert_close(c, tc.detach().numpy(), rtol=1e-10, atol=1e-10)


def test_zero_batch_and_float32():
    ranvier.manual_seed(0)
    m = nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    y, (h, c) = m(ranvier.zeros(5, 0, 3))
    assert tuple(y.shape) == (5, 0, 8) and tuple(h.shape) == (4, 0, 4)
    assert tuple(nn.GRUCell(3, 4)(ranvier.zeros(0, 3)).shape) == (0, 4)
    x = np.random.default_rng(11).standard_normal((3, 2, 3)).astype(np.float32)
    ey, eh, ec = np_rnn("LSTM", x.astype(np.float64), np.zeros((4, 2, 4)), np.zeros((4, 2, 4)),
                        np_weights(m), 2, 2)
    y, (h, c) = m(from_np(x))
    assert y.dtype == ranvier.float32
    assert_close(y, ey.astype(np.float32), rtol=1e-4, atol=1e-5)
    assert_close(c, ec.astype(np.float32), rtol=1e-4, atol=1e-5)


def test_gru_packed_matches_torch():
    torch = pytest.importorskip("torch")
    torch.manual_seed(1)
    tm = torch.nn.GRU(3, 4, num_layers=2, bidirectional=True).double()
    m = nn.GRU(3, 4, num_layers=2, bidirectional=True).double()
    m.load_state_dict({k: from_np(v.detach().numpy()) for k, v in tm.state_dict().items()})
    x = np.random.default_rng(12).standard_normal((5, 3, 3))
    lengths = [2, 5, 3]
    tp = torch.nn.utils.rnn.pack_padded_sequence(torch.from_numpy(x), lengths,
                                                 enforce_sorted=False)
    ty, th = tm(tp)
    ty, _ = torch.nn.utils.rnn.pad_packed_sequence(ty)
    p = pack_padded_sequence(from_np(x), lengths, enforce_sorted=False)
    y, h = m(p)
    y, _ = pad_packed_sequence(y)
    assert_close(y, ty.detach().numpy(), rtol=1e-10, atol=1e-10)
    assert_close(h, th.detach().numpy(), rtol=1e-10, atol=1e-10)


@settings(max_examples=15, deadline=None)
@given(T=st.integers(1, 4), B=st.integers(0, 3), I=st.integers(1, 4), H=st.integers(1, 4),
       L=st.integers(1, 2), bidir=st.booleans(), mode=st.sampled_from(["LSTM", "GRU", "RNN_RELU"]),
       batch_first=st.booleans())
def test_random_configurations_match_numpy(T, B, I, H, L, bidir, mode, batch_first):
    ranvier.manual_seed(T * 100 + B * 10 + I)
    kw = dict(num_layers=L, bidirectional=bidir, batch_first=batch_first)
    m = (nn.LSTM(I, H, **kw) if mode == "LSTM" else nn.GRU(I, H, **kw) if mode == "GRU"
         else nn.RNN(I, H, nonlinearity="relu", **kw)).double()
    D = 2 if bidir else 1
    x = np.random.default_rng(T + B).standard_normal((T, B, I))
    z = np.zeros((L * D, B, H))
    ey, eh, ec = np_rnn(mode, x, z, z if mode == "LSTM" else None, np_weights(m), L, D)
    xin = from_np(x.transpose(1, 0, 2) if batch_first else x)
    y, hn = m(xin)
    hn = hn[0] if mode == "LSTM" else hn
    assert_close(y, ey.transpose(1, 0, 2) if batch_first else ey, rtol=1e-10, atol=1e-10)
    assert_close(hn, eh, rtol=1e-10, atol=1e-10)
