"""Note [Embedding projection]: the embedding op (_C._embedding) and the projection of an
embedding's output through its distinct rows (_C._embedding_projection, used by the first layer
of nn.RNN / LSTM / GRU). Values and gradients are checked against float64 NumPy formulas and
against the plain product; the table's gradient must be right whether or not the shortcut
(no gradient for the embedding's output) is taken, and the shortcut must be taken only when
nothing else looks at that gradient."""
import numpy as np
import pytest

import ranvier as rv
from ranvier import _C
from helpers import from_np

F = rv.nn.functional


def _shortcuts():
    return _C._embedding_projection_shortcuts()


def _table(v=7, d=5, dtype=rv.float64, seed=0):
    rng = np.random.default_rng(seed)
    return from_np(rng.standard_normal((v, d)), requires_grad=True).to(dtype).detach() \
        .requires_grad_(True)


def _tokens(shape, v=7, seed=1, dtype=rv.int64):
    rng = np.random.default_rng(seed)
    return from_np(rng.integers(0, v, size=shape)).to(dtype)


def _np_table_grad(tok, rows, v, padding_idx=None):
    """float64: the table's gradient from the looked-up rows' gradients."""
    flat = tok.reshape(-1)
    rows = rows.reshape(flat.size, -1).astype(np.float64)
    out = np.zeros((v, rows.shape[1]))
    np.add.at(out, flat, rows)
    if padding_idx is not None:
        out[padding_idx] = 0
    return out


# ------------------------------------------------------------------------- the embedding op
@pytest.mark.parametrize("idx_dtype", [rv.int64, rv.int32])
@pytest.mark.parametrize("padding_idx", [None, 3])
def test_embedding_op_values_and_grad(idx_dtype, padding_idx):
    E = _table()
    tok = _tokens((4, 6), dtype=idx_dtype)
    out = F.embedding(tok, E, padding_idx=padding_idx)
    assert out.grad_fn.name() == "EmbeddingBackward0"
    np.testing.assert_array_equal(out.detach().numpy(), E.detach().numpy()[tok.numpy()])
    g = np.random.default_rng(2).standard_normal((4, 6, 5))
    out.backward(from_np(g))
    np.testing.assert_allclose(E.grad.numpy(),
                               _np_table_grad(tok.numpy(), g, 7, padding_idx), rtol=1e-12)


def test_embedding_op_scalar_and_empty_indices():
    E = _table()
    one = F.embedding(rv.tensor(4), E)
    assert tuple(one.shape) == (5,)
    np.testing.assert_array_equal(one.detach().numpy(), E.detach().numpy()[4])
    none = F.embedding(rv.zeros(0, 3, dtype=rv.int64), E)
    assert tuple(none.shape) == (0, 3, 5)
    none.sum().backward()
    np.testing.assert_array_equal(E.grad.numpy(), np.zeros((7, 5)))


def test_embedding_op_double_backward():
    # dE = sum over looked-up rows of c[r]; d/dc of sum(dE * r) is r[tok] (0 at padding rows)
    E = _table()
    tok = _tokens((3, 4))
    rng = np.random.default_rng(3)
    c = from_np(rng.standard_normal((3, 4, 5)), requires_grad=True)
    r = rng.standard_normal((7, 5))
    loss = (F.embedding(tok, E, padding_idx=2) * c).sum()
    (dE,) = rv.autograd.grad(loss, [E], create_graph=True)
    (dc,) = rv.autograd.grad((dE * from_np(r)).sum(), [c])
    want = r[tok.numpy()] * (tok.numpy() != 2)[..., None]
    np.testing.assert_allclose(dc.numpy(), want, rtol=1e-12)


def test_embedding_op_errors():
    E = _table()
    with pytest.raises(RuntimeError, match="embedding: weight must be 2-D"):
        _C._embedding(rv.zeros(7), _tokens((2,)), -1)
    with pytest.raises(TypeError, match="embedding: expected indices of type int64 or int32"):
        _C._embedding(E, rv.zeros(2), -1)
    with pytest.raises(ValueError, match="embedding: padding_idx 7 is out of range"):
        _C._embedding(E, _tokens((2,)), 7)
    with pytest.raises(IndexError):
        _C._embedding(E, rv.tensor([0, 7]), -1)
    with pytest.raises(IndexError, match="index 9 is out of range"):
        F.embedding(rv.tensor([9]), E)


def test_embedding_op_indices_changed_in_place_fails_backward():
    E = _table()
    tok = _tokens((2, 3))
    out = F.embedding(tok, E)
    tok.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.sum().backward()


# ------------------------------------------------------------------- the projection op
def _np_projection(table, tok, w, swap01):
    x = table[tok]  # [d0, d1, D]
    y = x @ w.T
    return np.swapaxes(y, 0, 1) if swap01 else y


@pytest.mark.parametrize("swap01", [False, True])
@pytest.mark.parametrize("padding_idx", [None, 4])
def test_projection_values_and_grads(swap01, padding_idx):
    E = _table()
    tok = _tokens((5, 8))
    rng = np.random.default_rng(4)
    w = from_np(rng.standard_normal((6, 5)), requires_grad=True)
    x = F.embedding(tok, E, padding_idx=padding_idx)
    before = _shortcuts()
    y = _C._embedding_projection(x, w, swap01)
    assert y is not None
    assert y.grad_fn.name() == "EmbeddingProjectionBackward0"
    want = _np_projection(E.detach().numpy(), tok.numpy(), w.detach().numpy(), swap01)
    np.testing.assert_allclose(y.detach().numpy(), want, rtol=1e-12, atol=1e-12)
    g = rng.standard_normal(tuple(y.shape))
    y.backward(from_np(g))
    assert _shortcuts() == before + 1
    g_rows = np.swapaxes(g, 0, 1) if swap01 else g  # back in x's [d0, d1] order
    xv = E.detach().numpy()[tok.numpy()]
    np.testing.assert_allclose(w.grad.numpy(),
                               np.einsum("abm,abd->md", g_rows, xv), rtol=1e-10)
    dx = g_rows @ w.detach().numpy()
    np.testing.assert_allclose(E.grad.numpy(),
                               _np_table_grad(tok.numpy(), dx, 7, padding_idx), rtol=1e-10,
                               atol=1e-12)


def _projection_case(seed=5):
    E = _table(seed=seed)
    tok = _tokens((4, 9), seed=seed + 1)
    w = from_np(np.random.default_rng(seed + 2).standard_normal((3, 5)), requires_grad=True)
    return E, tok, w


def _expected(E, tok, w, g):
    xv = E.detach().numpy()[tok.numpy()]
    dx = g @ w.detach().numpy()
    return dx, _np_table_grad(tok.numpy(), dx, 7)


def test_projection_retained_input_grad_takes_the_plain_path():
    E, tok, w = _projection_case()
    x = F.embedding(tok, E)
    x.retain_grad()
    y = _C._embedding_projection(x, w, False)
    g = np.random.default_rng(6).standard_normal(tuple(y.shape))
    before = _shortcuts()
    y.backward(from_np(g))
    assert _shortcuts() == before
    dx, dE = _expected(E, tok, w, g)
    np.testing.assert_allclose(x.grad.numpy(), dx, rtol=1e-12)
    np.testing.assert_allclose(E.grad.numpy(), dE, rtol=1e-10)


def test_projection_hook_on_input_sees_its_gradient():
    E, tok, w = _projection_case()
    x = F.embedding(tok, E)
    seen = []
    x.register_hook(lambda gr: seen.append(gr.numpy().copy()))
    y = _C._embedding_projection(x, w, True)
    g = np.random.default_rng(7).standard_normal(tuple(y.shape))
    before = _shortcuts()
    y.backward(from_np(g))
    assert _shortcuts() == before
    dx, dE = _expected(E, tok, w, np.swapaxes(g, 0, 1))
    assert len(seen) == 1
    np.testing.assert_allclose(seen[0], dx, rtol=1e-12)
    np.testing.assert_allclose(E.grad.numpy(), dE, rtol=1e-10)


def test_projection_autograd_grad_of_input():
    E, tok, w = _projection_case()
    x = F.embedding(tok, E)
    y = _C._embedding_projection(x, w, False)
    g = np.random.default_rng(8).standard_normal(tuple(y.shape))
    before = _shortcuts()
    (gx,) = rv.autograd.grad(y, [x], from_np(g))
    assert _shortcuts() == before
    np.testing.assert_allclose(gx.numpy(), _expected(E, tok, w, g)[0], rtol=1e-12)
    assert E.grad is None


def test_projection_input_with_another_consumer():
    # x feeds the projection and a second term: the table gets both parts
    E, tok, w = _projection_case()
    x = F.embedding(tok, E)
    y = _C._embedding_projection(x, w, False)
    rng = np.random.default_rng(9)
    g = rng.standard_normal(tuple(y.shape))
    c = rng.standard_normal((4, 9, 5))
    before = _shortcuts()
    ((y * from_np(g)).sum() + (x * from_np(c)).sum()).backward()
    assert _shortcuts() == before
    dx, _ = _expected(E, tok, w, g)
    np.testing.assert_allclose(E.grad.numpy(), _np_table_grad(tok.numpy(), dx + c, 7),
                               rtol=1e-10)


def test_projection_only_weight_wanted():
    E, tok, w = _projection_case()
    y = _C._embedding_projection(F.embedding(tok, E), w, False)
    g = np.random.default_rng(10).standard_normal(tuple(y.shape))
    (gw,) = rv.autograd.grad(y, [w], from_np(g))
    xv = E.detach().numpy()[tok.numpy()]
    np.testing.assert_allclose(gw.numpy(), np.einsum("abm,abd->md", g, xv), rtol=1e-10)
    assert E.grad is None


def test_projection_frozen_weight():
    E, tok, w = _projection_case()
    w.requires_grad_(False)
    y = _C._embedding_projection(F.embedding(tok, E), w, False)
    g = np.random.default_rng(11).standard_normal(tuple(y.shape))
    y.backward(from_np(g))
    np.testing.assert_allclose(E.grad.numpy(), _expected(E, tok, w, g)[1], rtol=1e-10)


def test_projection_double_backward_matches_plain_product():
    E, tok, w = _projection_case()
    r = from_np(np.random.default_rng(12).standard_normal((3, 5)))
    results = []
    for fused in (True, False):
        E.grad = None
        x = F.embedding(tok, E)
        y = _C._embedding_projection(x, w, False) if fused else x @ w.t()
        assert y is not None
        loss = (y * y).sum()
        (gw,) = rv.autograd.grad(loss, [w], create_graph=True)
        (gE,) = rv.autograd.grad((gw * r).sum(), [E])
        results.append(gE.numpy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-10)


def test_projection_declines():
    E, tok, w = _projection_case()
    x = F.embedding(tok, E)
    assert _C._embedding_projection(x, w, False) is not None
    # not an embedding's output
    assert _C._embedding_projection(x.detach().requires_grad_(True), w, False) is None
    assert _C._embedding_projection(x * 1, w, False) is None
    assert _C._embedding_projection(x.view(4, 9, 5), w, False) is None
    # no graph being recorded
    with rv.no_grad():
        assert _C._embedding_projection(F.embedding(tok, E), w, False) is None
    # a frozen table leaves nothing to record
    E2 = E.detach()
    assert _C._embedding_projection(F.embedding(tok, E2), w, False) is None
    # written in place after the lookup
    x2 = F.embedding(tok, E)
    with rv.no_grad():
        x2[0, 0, 0] = 5.0
    assert _C._embedding_projection(x2, w, False) is None
    # too few repeats: 36 rows need at most 9 distinct indices
    many = from_np(np.arange(36).reshape(4, 9) % 10)
    E10 = _table(v=10)
    assert _C._embedding_projection(F.embedding(many, E10), w, False) is None
    few = from_np(np.arange(36).reshape(4, 9) % 9)
    assert _C._embedding_projection(F.embedding(few, E10), w, False) is not None
    # shapes and dtypes that do not fit
    assert _C._embedding_projection(x, w.detach().float(), False) is None
    assert _C._embedding_projection(x, rv.zeros(3, 4, dtype=rv.float64), False) is None
    assert _C._embedding_projection(F.embedding(tok.reshape(-1), E), w, False) is None
    assert _C._embedding_projection(F.embedding(tok.reshape(2, 2, 9), E), w, False) is None


def test_projection_declines_when_indices_changed():
    E, tok, w = _projection_case()
    x = F.embedding(tok, E)
    tok[0, 0] = 1
    assert _C._embedding_projection(x, w, False) is None
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        (x @ w.t()).sum().backward()


# ------------------------------------------------------------------ in recurrent layers
def _reference_run(layer, E, tok, g_out, batch_first):
    """The same layer fed a leaf copy of the looked-up rows (the plain projection); the table's
    gradient is summed from the leaf's with NumPy."""
    x = from_np(E.detach().numpy()[tok.numpy()]).to(E.dtype).requires_grad_(True)
    out, _ = layer(x)
    out.backward(g_out)
    grads = {n: p.grad.numpy().copy() for n, p in layer.named_parameters()}
    table = _np_table_grad(tok.numpy(), x.grad.numpy(), E.shape[0])
    return out.detach().numpy(), grads, table


@pytest.mark.parametrize("kind,bidirectional,layers,batch_first", [
    ("LSTM", False, 1, True), ("LSTM", False, 1, False), ("LSTM", True, 2, True),
    ("LSTM", False, 2, True),
    ("GRU", False, 1, True), ("GRU", True, 1, False), ("RNN", False, 2, True)])
def test_recurrent_layer_after_embedding(kind, bidirectional, layers, batch_first):
    rv.manual_seed(3)
    layer = getattr(rv.nn, kind)(5, 6, layers, batch_first=batch_first,
                                 bidirectional=bidirectional).double()
    E = _table()
    tok = _tokens((4, 10) if batch_first else (10, 4)) if layers == 1 else _tokens((6, 6))
    D = 2 if bidirectional else 1
    g = from_np(np.random.default_rng(13).standard_normal(tuple(tok.shape) + (6 * D,)))
    before = _shortcuts()
    out, _ = layer(F.embedding(tok, E))
    out.backward(g)
    # one direction: the shortcut; two read the embedding's output twice (no shortcut)
    assert _shortcuts() == before + (0 if bidirectional else 1)
    fused = (out.detach().numpy(), {n: p.grad.numpy().copy()
                                    for n, p in layer.named_parameters()}, E.grad.numpy())
    layer.zero_grad()
    ref = _reference_run(layer, E, tok, g, batch_first)
    np.testing.assert_allclose(fused[0], ref[0], rtol=1e-10, atol=1e-12)
    for n in ref[1]:
        np.testing.assert_allclose(fused[1][n], ref[1][n], rtol=1e-9, atol=1e-11, err_msg=n)
    np.testing.assert_allclose(fused[2], ref[2], rtol=1e-9, atol=1e-11)


def test_lstm_after_embedding_float32_and_thread_counts():
    results = []
    for threads in (1, 2, 3):
        rv.set_num_threads(threads)
        try:
            rv.manual_seed(4)
            emb = rv.nn.Embedding(20, 16, padding_idx=0)
            lstm = rv.nn.LSTM(16, 32, batch_first=True)
            tok = _tokens((8, 24), v=20, seed=5)
            out, _ = lstm(emb(tok))
            out.square().mean().backward()
            results.append([emb.weight.grad.numpy().copy(), out.detach().numpy()] +
                           [p.grad.numpy().copy() for p in lstm.parameters()])
        finally:
            rv.set_num_threads(2)
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a.view(np.uint32), b.view(np.uint32))
    assert np.all(results[0][0][0] == 0)  # the padding row
    assert np.any(results[0][0][1:] != 0)


def test_lstm_after_embedding_matches_torch():
    torch = pytest.importorskip("torch")
    rv.manual_seed(5)
    emb = rv.nn.Embedding(12, 8)
    lstm = rv.nn.LSTM(8, 10, batch_first=True)
    tok = _tokens((3, 16), v=12, seed=7)
    out, _ = lstm(emb(tok))
    (out ** 2).sum().backward()
    temb = torch.nn.Embedding(12, 8)
    tlstm = torch.nn.LSTM(8, 10, batch_first=True)
    with torch.no_grad():
        temb.weight.copy_(torch.from_numpy(emb.weight.detach().numpy()))
        for n, p in tlstm.named_parameters():
            p.copy_(torch.from_numpy(getattr(lstm, n).detach().numpy()))
    tout, _ = tlstm(temb(torch.from_numpy(tok.numpy())))
    (tout ** 2).sum().backward()
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), atol=1e-6)
    np.testing.assert_allclose(emb.weight.grad.numpy(), temb.weight.grad.numpy(), atol=1e-5)
    np.testing.assert_allclose(lstm.weight_ih_l0.grad.numpy(), tlstm.weight_ih_l0.grad.numpy(),
                               atol=1e-5)


def test_lstm_after_embedding_with_initial_state_gradients():
    rv.manual_seed(6)
    lstm = rv.nn.LSTM(5, 6, batch_first=True).double()
    E = _table()
    tok = _tokens((3, 12))
    rng = np.random.default_rng(14)
    h0 = from_np(rng.standard_normal((1, 3, 6)), requires_grad=True)
    c0 = from_np(rng.standard_normal((1, 3, 6)), requires_grad=True)
    g = from_np(rng.standard_normal((3, 12, 6)))
    grads = []
    for x in (F.embedding(tok, E),
              from_np(E.detach().numpy()[tok.numpy()], requires_grad=True)):
        h0.grad = c0.grad = None
        lstm.zero_grad()
        out, (hn, cn) = lstm(x, (h0, c0))
        (out * g).sum().add((hn * 2).sum()).add((cn * 3).sum()).backward()
        grads.append([h0.grad.numpy().copy(), c0.grad.numpy().copy(),
                      lstm.weight_ih_l0.grad.numpy().copy(), lstm.bias_ih_l0.grad.numpy().copy()])
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_embedding_module_backward_hook_sees_the_gradient():
    rv.manual_seed(7)
    emb = rv.nn.Embedding(7, 5).double()
    lstm = rv.nn.LSTM(5, 4, batch_first=True).double()
    tok = _tokens((2, 16))
    seen = []
    emb.register_full_backward_hook(lambda m, gi, go: seen.append(go[0].numpy().copy()))
    out, _ = lstm(emb(tok))
    out.sum().backward()
    x = from_np(emb.weight.detach().numpy()[tok.numpy()], requires_grad=True)
    lstm.zero_grad()
    out2, _ = lstm(x)
    out2.sum().backward()
    assert len(seen) == 1
    np.testing.assert_allclose(seen[0], x.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(emb.weight.grad.numpy(),
                               _np_table_grad(tok.numpy(), x.grad.numpy(), 7), rtol=1e-9,
                               atol=1e-12)


def test_rnn_layer_embedded_declines_and_errors():
    E = _table(dtype=rv.float32)
    tok = _tokens((4, 12))
    x = F.embedding(tok, E)
    w_ih, w_hh = rv.randn(24, 5), rv.randn(24, 6)
    b = rv.zeros(24)
    h0, c0 = rv.zeros(4, 6), rv.zeros(4, 6)
    out = _C._rnn_layer_embedded("LSTM", x, w_ih, None, True, h0, c0, w_hh, b)
    assert out is not None and tuple(out[0].shape) == (12, 4, 6)
    out = _C._rnn_layer_embedded("LSTM", x, w_ih, None, True, h0, c0, w_hh, b,
                                 batch_first_out=True)
    assert tuple(out[0].shape) == (4, 12, 6)
    # what does not fit the fused path: None (the caller runs the plain one)
    assert _C._rnn_layer_embedded("LSTM", x, rv.randn(20, 5), None, True, h0, c0, w_hh,
                                  b) is None
    assert _C._rnn_layer_embedded("LSTM", x.detach(), w_ih, None, True, h0, c0, w_hh, b) is None
    assert _C._rnn_layer_embedded("LSTM", x, w_ih, rv.zeros(3), True, h0, c0, w_hh, b) is None
    assert _C._rnn_layer_embedded("LSTM", x, w_ih.double(), None, True, h0, c0, w_hh,
                                  b) is None
    # what the layer itself rejects: its errors, naming the layer and the shapes
    with pytest.raises(RuntimeError, match=r"LSTM: expected hidden state h0 of shape \[4, 6\]"):
        _C._rnn_layer_embedded("LSTM", x, w_ih, None, True, rv.zeros(3, 6), c0, w_hh, b,
                               name="LSTM")
    with pytest.raises(RuntimeError, match=r"LSTM: expected bias_hh of shape \[24\]"):
        _C._rnn_layer_embedded("LSTM", x, w_ih, None, True, h0, c0, w_hh, rv.zeros(5),
                               name="LSTM")
    with pytest.raises(TypeError, match="LSTM: expected every tensor of dtype float32"):
        _C._rnn_layer_embedded("LSTM", x, w_ih, None, True, h0.double(), c0, w_hh, b,
                               name="LSTM")
    with pytest.raises(ValueError, match="unknown mode 'XYZ'"):
        _C._rnn_layer_embedded("XYZ", x, w_ih, None, True, h0, c0, w_hh, b)
