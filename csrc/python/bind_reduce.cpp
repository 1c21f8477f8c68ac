// Reductions.
#include <pybind11/pybind11.h>

#include "ops/reduce.h"
#include "python/convert.h"

namespace ranvier::python {

void bind_reduce(py::module_& m, py::class_<Tensor>& cls) {
  auto sum_fn = [](const Tensor& t, py::handle dim, bool keepdim, py::handle dtype) {
    Tensor r = sum(t, to_dims(dim, "sum"), keepdim);
    (void)dtype;
    return r;
  };
  cls.def("sum", sum_fn, py::arg("dim") = py::none(), py::arg("keepdim") = false,
          py::kw_only(), py::arg("dtype") = py::none());
  m.def("sum", sum_fn, py::arg("input"), py::arg("dim") = py::none(),
        py::arg("keepdim") = false, py::kw_only(), py::arg("dtype") = py::none());
}

}  // namespace ranvier::python
