"""The fused recurrent layer op _C._rnn_layer (one direction of one RNN/LSTM/GRU layer over a
whole sequence, C++ time loop and back-through-time backward): forward against a NumPy
reference (reverse, per-row lengths), float64 gradchecks, agreement with the composed path,
thread-count invariance, errors naming the layer and shapes, no double backward."""
import numpy as np
import pytest

import ranvier
import ranvier.nn as nn
from ranvier import _C
from ranvier.nn import _functional_rnn as FR
from helpers import assert_close, from_np, to_np, gradcheck

MODES = ["RNN_TANH", "RNN_RELU", "LSTM", "GRU"]
GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _sig(x):
    return 1.0 / (1.0 + np.exp(-x))


def np_layer(mode, xp, h0, c0, w_hh, b_hh, reverse=False, lengths=None):
    """Reference: xp (T, B, G*H) input projections; returns y (T, B, H), h_n, c_n."""
    T, B, _ = xp.shape
    H = w_hh.shape[1]
    lengths = [T] * B if lengths is None else lengths
    y = np.zeros((T, B, H))
    h = h0.astype(np.float64).copy()
    c = c0.astype(np.float64).copy() if c0 is not None else None
    bh = b_hh if b_hh is not None else np.zeros(w_hh.shape[0])
    for t in (range(T - 1, -1, -1) if reverse else range(T)):
        for b in range(B):
            if t >= lengths[b]:
                continue
            gi = xp[t, b]
            gh = w_hh @ h[b] + bh
            if mode == "RNN_TANH":
                h[b] = np.tanh(gi + gh)
            elif mode == "RNN_RELU":
                h[b] = np.maximum(gi + gh, 0)
            elif mode == "LSTM":
                g = gi + gh
                i, f, gg, o = (g[k * H:(k + 1) * H] for k in range(4))
                c[b] = _sig(f) * c[b] + _sig(i) * np.tanh(gg)
                h[b] = _sig(o) * np.tanh(c[b])
            else:
                r = _sig(gi[:H] + gh[:H])
                z = _sig(gi[H:2 * H] + gh[H:2 * H])
                n = np.tanh(gi[2 * H:] + r * gh[2 * H:])
                h[b] = (1 - z) * n + z * h[b]
            y[t, b] = h[b]
    return y, h, c


def _inputs(mode, T, B, H, rng, bias=True, dtype=np.float64):
    G = GATES[mode]
    xp = rng.standard_normal((T, B, G * H)) * 0.7
    h0 = rng.standard_normal((B, H)) * 0.5
    c0 = rng.standard_normal((B, H)) * 0.5 if mode == "LSTM" else None
    w = rng.standard_normal((G * H, H)) * 0.4
    b = rng.standard_normal(G * H) * 0.3 if bias else None
    cast = (lambda a: None if a is None else a.astype(dtype))
    return [cast(a) for a in (xp, h0, c0, w, b)]


def _t(a, grad=False):
    return None if a is None else from_np(a, requires_grad=grad)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("lengths", [None, [5, 2, 0]])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_forward_matches_numpy(mode, reverse, lengths, dtype):
    rng = np.random.default_rng(0)
    xp, h0, c0, w, b = _inputs(mode, 5, 3, 4, rng, dtype=dtype)
    y, hn, cn = _C._rnn_layer(mode, _t(xp), _t(h0), _t(c0), _t(w), _t(b), reverse, lengths,
                              "LSTM")
    ey, eh, ec = np_layer(mode, xp.astype(np.float64), h0, c0, w.astype(np.float64),
                          b.astype(np.float64), reverse, lengths)
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
    assert_close(y, ey.astype(dtype), **tol)
    assert_close(hn, eh.astype(dtype), **tol)
    if mode == "LSTM":
        assert_close(cn, ec.astype(dtype), **tol)
    else:
        assert cn is None


@pytest.mark.parametrize("mode", MODES)
def test_forward_no_bias_and_zero_batch(mode):
    rng = np.random.default_rng(1)
    xp, h0, c0, w, _ = _inputs(mode, 3, 2, 5, rng, bias=False)
    y, hn, _ = _C._rnn_layer(mode, _t(xp), _t(h0), _t(c0), _t(w), None)
    ey, eh, _ = np_layer(mode, xp, h0, c0, w, None)
    assert_close(y, ey, rtol=1e-10, atol=1e-12)
    assert_close(hn, eh, rtol=1e-10, atol=1e-12)
    xp, h0, c0, w, b = _inputs(mode, 3, 0, 5, rng)
    y, hn, _ = _C._rnn_layer(mode, _t(xp, True), _t(h0, True), _t(c0, True), _t(w, True),
                             _t(b, True))
    assert tuple(y.shape) == (3, 0, 5) and tuple(hn.shape) == (0, 5)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("reverse,lengths", [(False, None), (True, None), (False, [3, 1]),
                                             (True, [2, 3])])
def test_gradcheck(mode, reverse, lengths):
    rng = np.random.default_rng(2)
    xp, h0, c0, w, b = _inputs(mode, 3, 2, 3, rng)
    if mode == "RNN_RELU":
        xp = xp + 0.3  # keep pre-activations away from the kink
    if mode == "LSTM":
        def f(xp, h0, c0, w, b):
            y, hn, cn = _C._rnn_layer(mode, xp, h0, c0, w, b, reverse, lengths)
            return y.sum(0) * 1.5 + hn * 0.7 + cn * 1.3
        assert gradcheck(f, xp, h0, c0, w, b)
    else:
        def f(xp, h0, w, b):
            y, hn, _ = _C._rnn_layer(mode, xp, h0, None, w, b, reverse, lengths)
            return y.sum(0) * 1.5 + hn * 0.7
        assert gradcheck(f, xp, h0, w, b)


def _run_module(cls, kw, x, hx, fused, monkeypatch):
    monkeypatch.setattr(FR, "_fused_ok", lambda *a: fused)
    ranvier.manual_seed(3)
    m = cls(4, 5, **kw).double()
    xt = from_np(x, requires_grad=True)
    out, hn = m(xt, hx)
    hn = hn[0] * 2 + hn[1] if isinstance(hn, tuple) else hn
    (out.sum() + (hn * hn).sum()).backward()
    grads = [to_np(p.grad) for p in m.parameters()] + [to_np(xt.grad)]
    return to_np(out), to_np(hn), grads


@pytest.mark.parametrize("cls", [nn.LSTM, nn.GRU, nn.RNN])
def test_module_fused_matches_composed(cls, monkeypatch):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((6, 3, 4))
    kw = {"num_layers": 2, "bidirectional": True}
    a = _run_module(cls, kw, x, None, True, monkeypatch)
    b = _run_module(cls, kw, x, None, False, monkeypatch)
    for u, v in zip(a[:2] + tuple(a[2]), b[:2] + tuple(b[2])):
        np.testing.assert_allclose(u, v, rtol=1e-9, atol=1e-11)


def test_thread_count_invariance():
    rng = np.random.default_rng(5)
    old = ranvier.get_num_threads()
    results = []
    try:
        for nt in (1, 2, 3):
            ranvier.set_num_threads(nt)
            xp, h0, c0, w, b = (_t(a.astype(np.float32), True) for a in
                                _inputs("LSTM", 7, 33, 40, np.random.default_rng(5)))
            y, hn, cn = _C._rnn_layer("LSTM", xp, h0, c0, w, b, False, None)
            (y * y).sum().add(hn.sum() + cn.sum()).backward()
            results.append([to_np(t) for t in (y, hn, cn, xp.grad, h0.grad, c0.grad,
                                               w.grad, b.grad)])
    finally:
        ranvier.set_num_threads(old)
    for other in results[1:]:
        for u, v in zip(results[0], other):
            assert np.array_equal(u, v)
    del rng


def test_double_backward_raises():
    rng = np.random.default_rng(6)
    xp, h0, c0, w, b = (_t(a, True) for a in _inputs("LSTM", 2, 2, 3, rng))
    y, _, _ = _C._rnn_layer("LSTM", xp, h0, c0, w, b, False, None, "LSTM")
    with pytest.raises(NotImplementedError, match="LSTM: double backward is not supported"):
        ranvier.autograd.grad(y.sum(), [w], create_graph=True)


def test_op_errors():
    rng = np.random.default_rng(7)
    xp, h0, c0, w, b = (_t(a) for a in _inputs("LSTM", 2, 3, 4, rng))
    with pytest.raises(RuntimeError, match=r"LSTM: expected hidden state h0 of shape \[3, 4\]"):
        _C._rnn_layer("LSTM", xp, from_np(np.zeros((2, 4))), c0, w, b, False, None, "LSTM")
    with pytest.raises(RuntimeError, match=r"LSTM: expected cell state c0 .*got None"):
        _C._rnn_layer("LSTM", xp, h0, None, w, b, False, None, "LSTM")
    with pytest.raises(RuntimeError, match=r"GRU: expected input projections of shape "
                                           r"\[T, B, 12\]"):
        _C._rnn_layer("GRU", xp, h0, None, from_np(np.zeros((12, 4))), None, False, None, "GRU")
    with pytest.raises(RuntimeError, match=r"LSTM: expected weight_hh of shape"):
        _C._rnn_layer("LSTM", xp, h0, c0, from_np(np.zeros((16, 3))), b, False, None, "LSTM")
    with pytest.raises(RuntimeError, match=r"LSTM: expected bias_hh of shape \[16\]"):
        _C._rnn_layer("LSTM", xp, h0, c0, w, from_np(np.zeros(15)), False, None, "LSTM")
    with pytest.raises(TypeError, match=r"LSTM: expected every tensor of dtype float64"):
        _C._rnn_layer("LSTM", xp, h0.float(), c0, w, b, False, None, "LSTM")
    with pytest.raises(TypeError, match=r"LSTM: expected a float32 or float64 input"):
        _C._rnn_layer("LSTM", xp.long(), h0, c0, w, b, False, None, "LSTM")
    with pytest.raises(ValueError, match=r"LSTM: sequence length 5 out of range for 2"):
        _C._rnn_layer("LSTM", xp, h0, c0, w, b, False, [1, 5, 2], "LSTM")
    with pytest.raises(RuntimeError, match=r"LSTM: expected 3 sequence lengths, got 2"):
        _C._rnn_layer("LSTM", xp, h0, c0, w, b, False, [1, 2], "LSTM")
    with pytest.raises(ValueError, match=r"unknown mode 'LSMT'"):
        _C._rnn_layer("LSMT", xp, h0, c0, w, b)


def test_module_errors_name_layer_and_shapes():
    lstm = nn.LSTM(4, 5, batch_first=True)
    with pytest.raises(RuntimeError, match=r"LSTM: input.size\(-1\) must be equal to "
                                           r"input_size. Expected 4, got 3"):
        lstm(ranvier.zeros(2, 6, 3))
    with pytest.raises(RuntimeError, match=r"LSTM: Expected hidden\[0\] size \(1, 2, 5\), "
                                           r"got \[1, 3, 5\]"):
        lstm(ranvier.zeros(2, 6, 4), (ranvier.zeros(1, 3, 5), ranvier.zeros(1, 2, 5)))
    gru = nn.GRU(4, 5)
    with pytest.raises(RuntimeError, match=r"GRU: Expected hidden size \(1, 2, 5\), "
                                           r"got \[2, 2, 5\]"):
        gru(ranvier.zeros(6, 2, 4), ranvier.zeros(2, 2, 5))


def test_float32_module_close_to_float64():
    rng = np.random.default_rng(8)
    ranvier.manual_seed(9)
    m = nn.LSTM(6, 8, num_layers=2, batch_first=True)
    x = rng.standard_normal((3, 10, 6)).astype(np.float32)
    out, (hn, cn) = m(from_np(x))
    m64 = m.double()
    out64, _ = m64(from_np(x.astype(np.float64)))
    assert_close(out, to_np(out64).astype(np.float32), rtol=1e-4, atol=1e-5)
