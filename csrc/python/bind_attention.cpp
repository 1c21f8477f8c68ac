// Binding for the fused attention op: _C._scaled_dot_product_attention (wrapped by
// nn.functional.scaled_dot_product_attention), and the switch of its AVX-512 row passes.
#include <pybind11/pybind11.h>

#include "kernels/cpu/attention_rows.h"
#include "kernels/cpu/attention_small.h"
#include "ops/attention.h"
#include "python/convert.h"

namespace ranvier::python {

void bind_attention(py::module_& m, py::class_<Tensor>&) {
  m.def("_scaled_dot_product_attention",
        [](const Tensor& q, const Tensor& k, const Tensor& v, py::handle mask, double scale,
           bool is_causal) {
          Tensor mt = mask.is_none() ? Tensor() : py::cast<Tensor>(mask);
          return scaled_dot_product_attention_fused(q, k, v, mt, scale, is_causal);
        },
        py::arg("query"), py::arg("key"), py::arg("value"), py::arg("attn_mask") = py::none(),
        py::arg("scale") = 1.0, py::arg("is_causal") = false);
  m.def("_set_attention_rows_vector", &cpu::set_attention_rows_vector_enabled, py::arg("on"),
        "whether float32 attention may run its AVX-512 / AVX2 row passes (tests compare them "
        "with the portable ones); returns "
        "the previous setting");
  m.def("_set_attention_small", &cpu::set_attention_small_enabled, py::arg("on"),
        "whether float32 attention on AVX2 CPUs may run the short-sequence kernels (tests "
        "compare them with the general ones); returns the previous setting");
  m.def("_attention_small_runs", &cpu::attention_small_runs,
        "how many forward and backward calls the short-sequence AVX2 attention kernels ran");
}

}  // namespace ranvier::python
