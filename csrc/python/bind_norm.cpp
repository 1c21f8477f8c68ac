// Bindings for the fused normalisation ops: _C._batch_norm and _C._layer_norm (wrapped by
// nn.functional.batch_norm / layer_norm).
#include <pybind11/pybind11.h>

#include "ops/norm.h"
#include "python/convert.h"

namespace ranvier::python {

namespace {
Tensor opt_t(py::handle h) { return h.is_none() ? Tensor() : py::cast<Tensor>(h); }
}  // namespace

void bind_norm(py::module_& m, py::class_<Tensor>&) {
  m.def("_batch_norm",
        [](const Tensor& input, py::handle rm, py::handle rv, py::handle w, py::handle b,
           bool training, double momentum, double eps) {
          return batch_norm(input, opt_t(rm), opt_t(rv), opt_t(w), opt_t(b), training, momentum,
                            eps);
        },
        py::arg("input"), py::arg("running_mean"), py::arg("running_var"),
        py::arg("weight") = py::none(), py::arg("bias") = py::none(),
        py::arg("training") = false, py::arg("momentum") = 0.1, py::arg("eps") = 1e-5);
  m.def("_layer_norm",
        [](const Tensor& input, py::handle shape, py::handle w, py::handle b, double eps) {
          return layer_norm(input, to_shape(shape, "layer_norm"), opt_t(w), opt_t(b), eps);
        },
        py::arg("input"), py::arg("normalized_shape"), py::arg("weight") = py::none(),
        py::arg("bias") = py::none(), py::arg("eps") = 1e-5);
}

}  // namespace ranvier::python
