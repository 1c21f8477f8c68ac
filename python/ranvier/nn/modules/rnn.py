"""Recurrent layers: RNNCell, LSTMCell, GRUCell and the sequence layers RNN, LSTM, GRU
(num_layers, bidirectional, batch_first, inter-layer dropout, proj_size for LSTM, unbatched
input and PackedSequence input). Parameters are named weight_ih_l{k}{_reverse},
weight_hh_l{k}{_reverse}, bias_ih_l{k}{_reverse}, bias_hh_l{k}{_reverse} (and weight_hr_l{k}
with proj_size), all initialised from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
import math

import ranvier
from ranvier.nn import init
from ranvier.nn import _functional_rnn as FR
from ranvier.nn.modules.module import Module
from ranvier.nn.parameter import Parameter
from ranvier.nn.utils.rnn import PackedSequence, _packed_to_padded_sorted

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _param(*shape, dtype=None, device=None):
    return Parameter(ranvier.empty(*shape, dtype=dtype, device=device))


def _reset(module):
    stdv = 1.0 / math.sqrt(module.hidden_size) if module.hidden_size > 0 else 0
    for p in module.parameters():
        init.uniform_(p, -stdv, stdv)


# ---------------------------------------------------------------- cells
class RNNCellBase(Module):
    def __init__(self, input_size, hidden_size, bias, num_chunks, device=None, dtype=None):
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        self.weight_ih = _param(num_chunks * hidden_size, input_size, dtype=dtype, device=device)
        self.weight_hh = _param(num_chunks * hidden_size, hidden_size, dtype=dtype,
                                device=device)
        if bias:
            self.bias_ih = _param(num_chunks * hidden_size, dtype=dtype, device=device)
            self.bias_hh = _param(num_chunks * hidden_size, dtype=dtype, device=device)
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self):
        _reset(self)

    def extra_repr(self):
        s = "%d, %d" % (self.input_size, self.hidden_size)
        if not self.bias:
            s += ", bias=False"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += ", nonlinearity=%r" % self.nonlinearity
        return s


class RNNCell(RNNCellBase):
    """h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh), act in {'tanh', 'relu'}."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None,
                 dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError("RNNCell: Unknown nonlinearity '%s'. Select from 'tanh' or 'relu'."
                             % nonlinearity)
        super().__init__(input_size, hidden_size, bias, 1, device=device, dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        fn = FR.rnn_tanh_cell if self.nonlinearity == "tanh" else FR.rnn_relu_cell
        return fn(input, hx, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)


class LSTMCell(RNNCellBase):
    """One LSTM step: returns (h', c'); hx = (h, c) or None for zeros."""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 4, device=device, dtype=dtype)

    def forward(self, input, hx=None):
        return FR.lstm_cell(input, hx, self.weight_ih, self.weight_hh, self.bias_ih,
                            self.bias_hh)


class GRUCell(RNNCellBase):
    """One GRU step."""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 3, device=device, dtype=dtype)

    def forward(self, input, hx=None):
        return FR.gru_cell(input, hx, self.weight_ih, self.weight_hh, self.bias_ih,
                           self.bias_hh)


# ---------------------------------------------------------------- sequence layers
class RNNBase(Module):
    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, proj_size=0,
                 device=None, dtype=None):
        super().__init__()
        name = type(self).__name__
        if not isinstance(dropout, (int, float)) or isinstance(dropout, bool) or \
                not 0 <= dropout <= 1:
            raise ValueError("%s: dropout should be a number in range [0, 1] representing the "
                             "probability of an element being zeroed, got %r" % (name, dropout))
        if not isinstance(hidden_size, int) or hidden_size <= 0:
            raise ValueError("%s: hidden_size must be a positive integer, got %r"
                             % (name, hidden_size))
        if not isinstance(num_layers, int) or num_layers <= 0:
            raise ValueError("%s: num_layers must be a positive integer, got %r"
                             % (name, num_layers))
        if proj_size < 0:
            raise ValueError("%s: proj_size should be a positive integer or zero to disable "
                             "projections, got %r" % (name, proj_size))
        if proj_size >= hidden_size:
            raise ValueError("%s: proj_size has to be smaller than hidden_size (%d), got %d"
                             % (name, hidden_size, proj_size))
        if proj_size and mode != "LSTM":
            raise ValueError("%s: proj_size argument is only supported for LSTM, not RNN or GRU"
                             % name)
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        D = 2 if bidirectional else 1
        G = _GATES[mode] * hidden_size
        h_out = proj_size if proj_size > 0 else hidden_size
        self._flat_weights_names = []
        for layer in range(num_layers):
            in_size = input_size if layer == 0 else h_out * D
            for d in range(D):
                sfx = "_l%d%s" % (layer, "_reverse" if d == 1 else "")
                params = [("weight_ih" + sfx, (G, in_size)), ("weight_hh" + sfx, (G, h_out))]
                if bias:
                    params += [("bias_ih" + sfx, (G,)), ("bias_hh" + sfx, (G,))]
                if proj_size > 0:
                    params += [("weight_hr" + sfx, (proj_size, hidden_size))]
                for pname, shape in params:
                    setattr(self, pname, _param(*shape, dtype=dtype, device=device))
                    self._flat_weights_names.append(pname)
        self.reset_parameters()

    def reset_parameters(self):
        _reset(self)

    @property
    def all_weights(self):
        D = 2 if self.bidirectional else 1
        out = []
        for layer in range(self.num_layers):
            for d in range(D):
                sfx = "_l%d%s" % (layer, "_reverse" if d == 1 else "")
                out.append([getattr(self, n + sfx) for n in
                            ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")
                            if hasattr(self, n + sfx) and getattr(self, n + sfx) is not None])
        return out

    def _weights(self):
        D = 2 if self.bidirectional else 1
        ws = []
        for layer in range(self.num_layers):
            for d in range(D):
                sfx = "_l%d%s" % (layer, "_reverse" if d == 1 else "")
                ws.append(tuple(getattr(self, n + sfx, None) for n in
                                ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")))
        return ws

    def _check_hidden(self, h, want, which):
        if tuple(h.shape) != tuple(want):
            raise RuntimeError("%s: Expected %s size %s, got %s"
                               % (type(self).__name__, which, tuple(want), list(h.shape)))

    def forward(self, input, hx=None):
        name = type(self).__name__
        is_lstm = self.mode == "LSTM"
        D = 2 if self.bidirectional else 1
        h_out = self.proj_size if self.proj_size > 0 else self.hidden_size
        packed = isinstance(input, PackedSequence)
        lengths = None
        if packed:
            x, lengths = _packed_to_padded_sorted(input)
            batched = True
            if hx is not None and input.sorted_indices is not None:
                idx = input.sorted_indices
                hx = (tuple(h.index_select(1, idx) for h in hx) if is_lstm
                      else hx.index_select(1, idx))
        else:
            x = input
            if x.dim() not in (2, 3):
                raise ValueError("%s: Expected input to be 2D or 3D, got %dD tensor instead "
                                 "(shape %s)" % (name, x.dim(), list(x.shape)))
            batched = x.dim() == 3
            if not batched:
                x = x.unsqueeze(1)
            elif self.batch_first:
                x = x.transpose(0, 1)
        if x.shape[-1] != self.input_size:
            raise RuntimeError("%s: input.size(-1) must be equal to input_size. Expected %d, "
                               "got %d" % (name, self.input_size, x.shape[-1]))
        B = x.shape[1]
        h_shape = (self.num_layers * D, B, h_out)
        c_shape = (self.num_layers * D, B, self.hidden_size)
        if hx is None:
            h0 = ranvier.zeros(*h_shape, dtype=x.dtype, device=x.device)
            c0 = ranvier.zeros(*c_shape, dtype=x.dtype, device=x.device) if is_lstm else None
        else:
            if is_lstm:
                if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                    raise RuntimeError("LSTM: hx must be a tuple (h_0, c_0)")
                h0, c0 = hx
            else:
                if not isinstance(hx, ranvier.Tensor):
                    raise RuntimeError("%s: hx must be a Tensor, got %s" % (name, type(hx)))
                h0, c0 = hx, None
            want_dim = 3 if batched else 2
            for h in ([h0, c0] if is_lstm else [h0]):
                if h.dim() != want_dim:
                    raise RuntimeError("%s: For %s input, hx should be %dD, got %dD tensor "
                                       "(shape %s)" % (name, "batched" if batched else
                                                       "unbatched", want_dim, h.dim(),
                                                       list(h.shape)))
            if not batched:
                h0 = h0.unsqueeze(1)
                c0 = c0.unsqueeze(1) if c0 is not None else None
            self._check_hidden(h0, h_shape, "hidden" if not is_lstm else "hidden[0]")
            if is_lstm:
                self._check_hidden(c0, c_shape, "hidden[1]")
        if x.shape[0] == 0:
            raise RuntimeError("%s: expected a sequence of at least one time step, got input "
                               "shape %s" % (name, list(x.shape)))
        source = (input, self.batch_first) if not packed and batched else None
        batch_first = batched and not packed and self.batch_first
        out, h_n, c_n = FR.run_rnn(self.mode, x, h0, c0, self._weights(), self.num_layers,
                                   self.bidirectional, self.dropout, self.training, lengths,
                                   name, source, batch_first)
        if packed:
            bs = [int(v) for v in input.batch_sizes.tolist()]
            data = ranvier.cat([out[t, :bs[t]] for t in range(len(bs))], 0)
            out = PackedSequence(data, input.batch_sizes, input.sorted_indices,
                                 input.unsorted_indices)
            if input.unsorted_indices is not None:
                h_n = h_n.index_select(1, input.unsorted_indices)
                c_n = c_n.index_select(1, input.unsorted_indices) if c_n is not None else None
        elif not batched:
            out = out.squeeze(1)
            h_n = h_n.squeeze(1)
            c_n = c_n.squeeze(1) if c_n is not None else None
        return out, ((h_n, c_n) if is_lstm else h_n)

    def extra_repr(self):
        s = "%d, %d" % (self.input_size, self.hidden_size)
        if self.proj_size:
            s += ", proj_size=%d" % self.proj_size
        if self.num_layers != 1:
            s += ", num_layers=%d" % self.num_layers
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += ", dropout=%s" % self.dropout
        if self.bidirectional:
            s += ", bidirectional=True"
        return s


class RNN(RNNBase):
    """Elman RNN with tanh or relu nonlinearity."""

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError("RNN: Unknown nonlinearity '%s'. Select from 'tanh' or 'relu'."
                             % nonlinearity)
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size,
                         hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device=device, dtype=dtype)
        self.nonlinearity = nonlinearity


class LSTM(RNNBase):
    """Multi-layer LSTM; forward returns (output, (h_n, c_n))."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, proj_size, device=device, dtype=dtype)


class GRU(RNNBase):
    """Multi-layer GRU; forward returns (output, h_n)."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, device=None, dtype=None):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, device=device, dtype=dtype)
