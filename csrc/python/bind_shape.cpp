// View and shape ops.
#include <pybind11/pybind11.h>

#include "ops/copy.h"
#include "ops/shape.h"
#include "python/convert.h"

namespace ranvier::python {

void bind_shape(py::module_& m, py::class_<Tensor>& cls) {
  cls.def("view", [](const Tensor& t, py::args a) { return view(t, shape_from_args(a, "view")); })
      .def("reshape", [](const Tensor& t, py::args a) {
        return reshape(t, shape_from_args(a, "reshape"));
      })
      .def("expand", [](const Tensor& t, py::args a) {
        return expand(t, shape_from_args(a, "expand"));
      })
      .def("permute", [](const Tensor& t, py::args a) {
        return permute(t, shape_from_args(a, "permute"));
      })
      .def("transpose", [](const Tensor& t, int64_t a, int64_t b) { return transpose(t, a, b); })
      .def("t", [](const Tensor& x) { return t(x); })
      .def_property_readonly("T", [](const Tensor& x) {
        std::vector<int64_t> p(x.dim());
        for (int64_t i = 0; i < x.dim(); ++i) p[i] = x.dim() - 1 - i;
        return permute(x, p);
      })
      .def("squeeze", [](const Tensor& t, py::handle dim) {
        return dim.is_none() ? squeeze(t) : squeeze(t, to_dims(dim, "squeeze"));
      }, py::arg("dim") = py::none())
      .def("unsqueeze", [](const Tensor& t, int64_t d) { return unsqueeze(t, d); })
      .def("flatten", [](const Tensor& t, int64_t s, int64_t e) { return flatten(t, s, e); },
           py::arg("start_dim") = 0, py::arg("end_dim") = -1)
      .def("as_strided", [](const Tensor& t, py::handle size, py::handle stride, py::handle off) {
        return as_strided(t, to_shape(size, "as_strided"), to_shape(stride, "as_strided"),
                          off.is_none() ? t.storage_offset() : py::cast<int64_t>(off));
      }, py::arg("size"), py::arg("stride"), py::arg("storage_offset") = py::none())
      .def("contiguous", [](const Tensor& t, py::handle) { return contiguous(t); },
           py::arg("memory_format") = py::none())
      .def("clone", [](const Tensor& t, py::handle) { return clone(t); },
           py::arg("memory_format") = py::none());
  m.def("reshape", [](const Tensor& t, py::handle s) { return reshape(t, to_shape(s, "reshape")); });
  m.def("permute", [](const Tensor& t, py::handle s) { return permute(t, to_shape(s, "permute")); });
  m.def("transpose", [](const Tensor& t, int64_t a, int64_t b) { return transpose(t, a, b); });
  m.def("t", [](const Tensor& x) { return t(x); });
  m.def("squeeze", [](const Tensor& t, py::handle dim) {
    return dim.is_none() ? squeeze(t) : squeeze(t, to_dims(dim, "squeeze"));
  }, py::arg("input"), py::arg("dim") = py::none());
  m.def("unsqueeze", [](const Tensor& t, int64_t d) { return unsqueeze(t, d); });
  m.def("flatten", [](const Tensor& t, int64_t s, int64_t e) { return flatten(t, s, e); },
        py::arg("input"), py::arg("start_dim") = 0, py::arg("end_dim") = -1);
  m.def("clone", [](const Tensor& t) { return clone(t); });
}

}  // namespace ranvier::python
