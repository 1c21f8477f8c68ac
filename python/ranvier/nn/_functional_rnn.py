"""Functional recurrent cells (rnn_tanh_cell, rnn_relu_cell, lstm_cell, gru_cell) and the
multi-layer, optionally bidirectional sequence runner used by nn.RNN / nn.LSTM / nn.GRU.

The input projection of every time step is one GEMM (x @ W_ih^T + b_ih over the whole
sequence). For float32/float64 tensors on the CPU or on CUDA the rest of a layer direction (and
of a cell) is the fused op _C._rnn_layer: the time loop, one GEMM per step and one fused gate
pass, one autograd node with a back-through-time backward in C++ (no double backward).
Otherwise (LSTM with proj_size, other devices or dtypes) each step is composed of
differentiable ranvier ops.
Gate order: i, f, g, o for LSTM and r, z, n for GRU."""
import ranvier
from ranvier import _C
from ranvier.nn._functional_basic import linear
from ranvier.nn._functional_dropout import dropout


# ---------------------------------------------------------------- gate arithmetic of one step
def _tanh_gates(gi, gh, c):
    return ranvier.tanh(gi + gh), None


def _relu_gates(gi, gh, c):
    return ranvier.relu(gi + gh), None


def _lstm_gates(gi, gh, c):
    i, f, g, o = (gi + gh).chunk(4, -1)
    c_new = ranvier.sigmoid(f) * c + ranvier.sigmoid(i) * ranvier.tanh(g)
    return ranvier.sigmoid(o) * ranvier.tanh(c_new), c_new


def _gru_step(gi, gh, h):
    ir, iz, in_ = gi.chunk(3, -1)
    hr, hz, hn = gh.chunk(3, -1)
    r = ranvier.sigmoid(ir + hr)
    z = ranvier.sigmoid(iz + hz)
    n = ranvier.tanh(in_ + r * hn)
    return (1 - z) * n + z * h


_GATES = {"RNN_TANH": (1, _tanh_gates), "RNN_RELU": (1, _relu_gates),
          "LSTM": (4, _lstm_gates), "GRU": (3, None)}


def _step(mode, gi, h, c, w_hh, b_hh, w_hr=None):
    """One time step given the input pre-activation gi; returns (h, c) (c is None but LSTM)."""
    gh = linear(h, w_hh, b_hh)
    if mode == "GRU":
        return _gru_step(gi, gh, h), None
    h_new, c_new = _GATES[mode][1](gi, gh, c)
    if w_hr is not None:
        h_new = linear(h_new, w_hr)
    return h_new, c_new


def _fused_ok(*tensors):
    """Whether the fused C++ layer applies: float32/float64 tensors, all on the CPU or all on
    one CUDA device."""
    device = None
    for t in tensors:
        if t is None:
            continue
        if t.dtype not in (ranvier.float32, ranvier.float64) or \
                t.device.type not in ("cpu", "cuda") or (device is not None and t.device != device):
            return False
        device = t.device
    return True


# ---------------------------------------------------------------- cells
def _check_cell(name, input, hx, w_ih, w_hh):
    if input.dim() not in (1, 2):
        raise ValueError("%s: Expected input to be 1D or 2D, got %dD instead"
                         % (name, input.dim()))
    if input.shape[-1] != w_ih.shape[1]:
        raise RuntimeError("%s: input has inconsistent input_size: got %d expected %d"
                           % (name, input.shape[-1], w_ih.shape[1]))
    hidden = w_hh.shape[1]
    for k, h in enumerate(hx):
        if h is None:
            continue
        if h.dim() != input.dim():
            raise RuntimeError("%s: Expected hidden%s to be %dD, got %dD (input %s, hidden %s)"
                               % (name, "" if len(hx) == 1 else "[%d]" % k, input.dim(),
                                  h.dim(), list(input.shape), list(h.shape)))
        want = tuple(input.shape[:-1]) + (hidden,)
        if tuple(h.shape) != want:
            raise RuntimeError("%s: Expected hidden%s size %s, got %s"
                               % (name, "" if len(hx) == 1 else "[%d]" % k, want,
                                  list(h.shape)))


def _cell(name, mode, input, hx, w_ih, w_hh, b_ih, b_hh):
    states = list(hx) if isinstance(hx, (tuple, list)) else [hx]
    _check_cell(name, input, states, w_ih, w_hh)
    batched = input.dim() == 2
    if not batched:
        input = input.unsqueeze(0)
    shape = (input.shape[0], w_hh.shape[1])
    states = [ranvier.zeros(*shape, dtype=input.dtype, device=input.device) if s is None else
              (s if batched else s.unsqueeze(0)) for s in states]
    c0 = states[1] if mode == "LSTM" else None
    if _fused_ok(input, states[0], c0, w_ih, w_hh, b_ih, b_hh) and \
            all(s.dtype == input.dtype for s in [states[0], w_ih, w_hh] +
                [t for t in (c0, b_ih, b_hh) if t is not None]):
        xp = linear(input, w_ih, b_ih).unsqueeze(0)
        _, h, c = _C._rnn_layer(mode, xp, states[0], c0, w_hh, b_hh, False, None, name)
        if not batched:
            h = h.squeeze(0)
            c = c.squeeze(0) if c is not None else None
        return (h, c) if mode == "LSTM" else h
    h, c = _step(mode, linear(input, w_ih, b_ih), states[0],
                 states[1] if mode == "LSTM" else None, w_hh, b_hh)
    if not batched:
        h = h.squeeze(0)
        c = c.squeeze(0) if c is not None else None
    return (h, c) if mode == "LSTM" else h


def rnn_tanh_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)."""
    return _cell("rnn_tanh_cell", "RNN_TANH", input, hx, w_ih, w_hh, b_ih, b_hh)


def rnn_relu_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """h' = relu(x W_ih^T + b_ih + h W_hh^T + b_hh)."""
    return _cell("rnn_relu_cell", "RNN_RELU", input, hx, w_ih, w_hh, b_ih, b_hh)


def lstm_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One LSTM step; hx = (h, c); returns (h', c')."""
    if hx is None:
        hx = (None, None)
    return _cell("lstm_cell", "LSTM", input, hx, w_ih, w_hh, b_ih, b_hh)


def gru_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One GRU step (the n gate applies r to h W_hn^T + b_hn)."""
    return _cell("gru_cell", "GRU", input, hx, w_ih, w_hh, b_ih, b_hh)


# ---------------------------------------------------------------- whole sequences
def _project(x, w_ih, b_ih, source):
    """x @ w_ih^T + b_ih for all time steps. source: None, or (the layer's input as given,
    whether it is batch-first) when x is that input (time-major): an embedding's output is
    then projected through its distinct rows (Note [Embedding projection])."""
    if source is not None:
        y = _C._embedding_projection(source[0], w_ih, source[1])
        if y is not None:
            return y if b_ih is None else y + b_ih
    return linear(x, w_ih, b_ih)  # all time steps in one GEMM


def _direction(mode, x, h, c, params, reverse, masks, lengths=None, name="RNN", source=None,
               batch_first_out=False):
    """Runs one direction of one layer over x (T, B, in); returns (output (T, B, H'), or
    (B, T, H') when batch_first_out, h, c). source: see _project."""
    w_ih, w_hh, b_ih, b_hh, w_hr = params
    if w_hr is None and _fused_ok(x, h, c, w_ih, w_hh, b_ih, b_hh):
        if mode != "GRU" and b_ih is not None and b_hh is not None:
            # Both biases add to the same pre-activations: the fused layer adds their sum, so
            # the bias gradient is its own column sum of the gate gradients (computed once,
            # shared by both) instead of a second reduction over the projection's gradient.
            b_in, b_h = None, b_ih + b_hh
        else:
            b_in, b_h = b_ih, b_hh
        if source is not None and lengths is None:
            # an embedding's output: the layer reads the products of its distinct rows
            # (Note [Embedding projection]), and can write a batch-first output itself
            out = _C._rnn_layer_embedded(mode, source[0], w_ih, b_in, source[1], h, c, w_hh,
                                         b_h, reverse, batch_first_out, name)
            if out is not None:
                return out
        proj = _project(x, w_ih, b_in, source)
        y, h, c = _C._rnn_layer(mode, proj, h, c, w_hh, b_h, reverse, lengths, name)
        return (y.transpose(0, 1) if batch_first_out else y), h, c
    proj = _project(x, w_ih, b_ih, source)
    T = x.shape[0]
    ys = [None] * T
    for t in (range(T - 1, -1, -1) if reverse else range(T)):
        h_new, c_new = _step(mode, proj[t], h, c, w_hh, b_hh, w_hr)
        if masks is None:
            h, c = h_new, c_new
            ys[t] = h
        else:
            m = masks[t]  # (B, 1): 1 where step t is inside the sequence
            h = h_new * m + h * (1 - m)
            if c is not None:
                c = c_new * m + c * (1 - m)
            ys[t] = h_new * m
    y = ranvier.stack(ys, 0)
    return (y.transpose(0, 1) if batch_first_out else y), h, c


def run_rnn(mode, x, hx, cx, weights, num_layers, bidirectional, dropout_p, training,
            lengths=None, name="RNN", source=None, batch_first=False):
    """x: (T, B, in) time-major. hx: (L*D, B, H_out); cx: (L*D, B, H) for LSTM else None.
    weights: a list over layer*D + direction of (w_ih, w_hh, b_ih, b_hh, w_hr) (None allowed).
    lengths: per-batch-entry sequence lengths (steps at t >= length leave the state unchanged
    and give zero output). source: None, or (the 3-D input as the layer got it, whether it is
    batch-first), for the first layer's projection (_project). Returns (output (T, B,
    D*H_out), or (B, T, D*H_out) when batch_first, h_n, c_n or None)."""
    D = 2 if bidirectional else 1
    # one layer, one direction: it can write a batch-first output itself
    direct = batch_first and num_layers == 1 and D == 1
    masks = None
    if lengths is not None:
        lens = ranvier.tensor([float(v) for v in lengths], dtype=x.dtype,
                              device=x.device).unsqueeze(1)
        masks = [(lens > t).to(x.dtype) for t in range(x.shape[0])]
    h_out, c_out = [], []
    for layer in range(num_layers):
        outs = []
        for d in range(D):
            k = layer * D + d
            y, h, c = _direction(mode, x, hx[k], cx[k] if cx is not None else None,
                                 weights[k], d == 1, masks,
                                 None if lengths is None else [int(v) for v in lengths], name,
                                 source if layer == 0 else None, direct)
            outs.append(y)
            h_out.append(h)
            c_out.append(c)
        x = outs[0] if D == 1 else ranvier.cat(outs, 2)
        if dropout_p > 0 and training and layer < num_layers - 1:
            x = dropout(x, dropout_p, True)
    h_n = ranvier.stack(h_out, 0)
    c_n = ranvier.stack(c_out, 0) if cx is not None else None
    if batch_first and not direct:
        x = x.transpose(0, 1)
    return x, h_n, c_n
