// Binding for the fused recurrent layer: _C._rnn_layer (used by nn.RNN / nn.LSTM / nn.GRU and
// the functional cells in nn/_functional_rnn.py); for tests, _C._rnn_packed_gemm and
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
}  // namespace

void bind_rnn(py::module_& m, py::class_<Tensor>&) {
  m.def("_rnn_layer",
        [](const std::string& mode, const Tensor& xp, const Tensor& h0, py::handle c0,
           const Tensor& w_hh, py::handle b_hh, bool reverse, py::handle lengths,
           const std::string& name) {
          std::vector<int64_t> lens;
          if (!lengths.is_none()) lens = py::cast<std::vector<int64_t>>(lengths);
          // the op keeps a pointer to `name` in its backward: give it static storage
          static const std::string names[] = {"LSTM", "GRU", "RNN", "LSTMCell", "GRUCell",
                                              "RNNCell", "lstm_cell", "gru_cell",
                                              "rnn_tanh_cell", "rnn_relu_cell"};
          const char* nm = "_rnn_layer";
          for (const auto& n : names)
            if (n == name) nm = n.c_str();
          auto outs = rnn_layer(parse_mode(mode), xp, h0, opt(c0), w_hh, opt(b_hh), reverse,
                                lens, nm);
          py::object cn = outs[2].defined() ? py::cast(outs[2]) : py::none();
          return py::make_tuple(outs[0], outs[1], cn);
        },
        py::arg("mode"), py::arg("xp"), py::arg("h0"), py::arg("c0"), py::arg("w_hh"),
        py::arg("b_hh"), py::arg("reverse") = false, py::arg("lengths") = py::none(),
        py::arg("name") = "_rnn_layer");
  m.def("_rnn_packed_gemm",
        [](const Tensor& a, const Tensor& b, py::handle c) {
          return rnn_packed_gemm(a, b, opt(c));
        },
        py::arg("a"), py::arg("b"), py::arg("c") = py::none());
  m.def("_rnn_gemm_isa", &rnn_gemm_isa, py::arg("level") = -1);
}

}  // namespace ranvier::python
