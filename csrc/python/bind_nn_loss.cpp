// Bindings for the softmax family (ranvier.softmax / log_softmax / softmin and the Tensor
// methods) and the fused cross_entropy (_C._cross_entropy, wrapped by nn.functional).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "ops/loss.h"
#include "ops/softmax.h"
#include "python/convert.h"

namespace ranvier::python {

namespace {
std::optional<DType> opt_dtype(py::handle h) {
  if (h.is_none()) return std::nullopt;
  return to_dtype_arg(h, DType::Float32);
}
Tensor opt_tensor(py::handle h) { return h.is_none() ? Tensor() : py::cast<Tensor>(h); }
}  // namespace

void bind_nn_loss(py::module_& m, py::class_<Tensor>& cls) {
  auto sm = [](const Tensor& t, int64_t dim, py::handle dt) { return softmax(t, dim, opt_dtype(dt)); };
  auto lsm = [](const Tensor& t, int64_t dim, py::handle dt) {
    return log_softmax(t, dim, opt_dtype(dt));
  };
  auto smin = [](const Tensor& t, int64_t dim, py::handle dt) {
    return softmin(t, dim, opt_dtype(dt));
  };
  m.def("softmax", sm, py::arg("input"), py::arg("dim"), py::arg("dtype") = py::none());
  m.def("log_softmax", lsm, py::arg("input"), py::arg("dim"), py::arg("dtype") = py::none());
  m.def("_softmin", smin, py::arg("input"), py::arg("dim"), py::arg("dtype") = py::none());
  cls.def("softmax", sm, py::arg("dim"), py::arg("dtype") = py::none());
  cls.def("log_softmax", lsm, py::arg("dim"), py::arg("dtype") = py::none());

  m.def("_cross_entropy",
        [](const Tensor& input, const Tensor& target, py::handle weight,
           const std::string& reduction, int64_t ignore_index, double label_smoothing,
           std::optional<DType> dtype) {
          return cross_entropy(input, target, opt_tensor(weight),
                               parse_reduction(reduction, "cross_entropy"), ignore_index,
                               label_smoothing, dtype);
        },
        py::arg("input"), py::arg("target"), py::arg("weight") = py::none(),
        py::arg("reduction") = "mean", py::arg("ignore_index") = -100,
        py::arg("label_smoothing") = 0.0, py::arg("dtype") = py::none());
}

}  // namespace ranvier::python
