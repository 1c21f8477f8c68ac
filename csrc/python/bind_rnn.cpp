// Binding for the fused recurrent layer: _C._rnn_layer (used by nn.RNN / nn.LSTM / nn.GRU and
// the functional cells in nn/_functional_rnn.py) and _C._rnn_layer_embedded (a first layer fed
// by an embedding); for tests, _C._rnn_packed_gemm and
// _C._rnn_gemm_isa (the packed GEMM of its time loop and its kernel level).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>

#include "ops/rnn.h"
#include "python/convert.h"

namespace ranvier::python {

namespace {
RnnMode parse_mode(const std::string& m) {
  if (m == "LSTM") return RnnMode::Lstm;
  if (m == "GRU") return RnnMode::Gru;
  if (m == "RNN_TANH") return RnnMode::Tanh;
  RV_CHECK_VALUE(m == "RNN_RELU", "_rnn_layer: unknown mode '", m,
                 "' (expected LSTM, GRU, RNN_TANH or RNN_RELU)");
  return RnnMode::Relu;
}

Tensor opt(py::handle h) { return h.is_none() ? Tensor() : py::cast<Tensor>(h); }

// The op keeps a pointer to the layer's name in its backward: one with static storage.
const char* static_name(const std::string& name, const char* fallback) {
  static const std::string names[] = {"LSTM", "GRU", "RNN", "LSTMCell", "GRUCell",
                                      "RNNCell", "lstm_cell", "gru_cell",
                                      "rnn_tanh_cell", "rnn_relu_cell"};
  for (const auto& n : names)
    if (n == name) return n.c_str();
  return fallback;
}
}  // namespace

void bind_rnn(py::module_& m, py::class_<Tensor>&) {
  m.def("_rnn_layer",
        [](const std::string& mode, const Tensor& xp, const Tensor& h0, py::handle c0,
           const Tensor& w_hh, py::handle b_hh, bool reverse, py::handle lengths,
           const std::string& name) {
          std::vector<int64_t> lens;
          if (!lengths.is_none()) lens = py::cast<std::vector<int64_t>>(lengths);
          auto outs = rnn_layer(parse_mode(mode), xp, h0, opt(c0), w_hh, opt(b_hh), reverse,
                                lens, static_name(name, "_rnn_layer"));
          py::object cn = outs[2].defined() ? py::cast(outs[2]) : py::none();
          return py::make_tuple(outs[0], outs[1], cn);
        },
        py::arg("mode"), py::arg("xp"), py::arg("h0"), py::arg("c0"), py::arg("w_hh"),
        py::arg("b_hh"), py::arg("reverse") = false, py::arg("lengths") = py::none(),
        py::arg("name") = "_rnn_layer");
  m.def("_rnn_layer_embedded",
        [](const std::string& mode, const Tensor& x, const Tensor& w_ih, py::handle b_ih,
           bool swap01, const Tensor& h0, py::handle c0, const Tensor& w_hh, py::handle b_hh,
           bool reverse, bool batch_first_out, const std::string& name) -> py::object {
          auto outs = rnn_layer_embedded(parse_mode(mode), x, w_ih, opt(b_ih), swap01, h0,
                                         opt(c0), w_hh, opt(b_hh), reverse, batch_first_out,
                                         static_name(name, "_rnn_layer_embedded"));
          if (outs.empty()) return py::none();
          py::object cn = outs[2].defined() ? py::cast(outs[2]) : py::none();
          return py::make_tuple(outs[0], outs[1], cn);
        },
        py::arg("mode"), py::arg("x"), py::arg("w_ih"), py::arg("b_ih"), py::arg("swap01"),
        py::arg("h0"), py::arg("c0"), py::arg("w_hh"), py::arg("b_hh"),
        py::arg("reverse") = false, py::arg("batch_first_out") = false,
        py::arg("name") = "_rnn_layer_embedded");
  m.def("_rnn_packed_gemm",
        [](const Tensor& a, const Tensor& b, py::handle c) {
          return rnn_packed_gemm(a, b, opt(c));
        },
        py::arg("a"), py::arg("b"), py::arg("c") = py::none());
  m.def("_rnn_gemm_isa", &rnn_gemm_isa, py::arg("level") = -1);
}

}  // namespace ranvier::python
