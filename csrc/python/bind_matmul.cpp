// Matrix products: matmul (and the @ operator), mm, bmm, addmm, mv, dot, outer.
#include <pybind11/pybind11.h>

#include "core/matmul_precision.h"
#include "kernels/cpu/blas.h"
#include "kernels/cpu/gemm_panels.h"
#include "ops/matmul.h"
#include "python/autocast.h"
#include "python/convert.h"

namespace ranvier::python {

void bind_matmul(py::module_& m, py::class_<Tensor>& cls) {
  cls.def("__matmul__", [](const Tensor& a, py::handle b) -> py::object {
       if (!is_tensor(b)) return py::reinterpret_borrow<py::object>(Py_NotImplemented);
       return py::cast(matmul(a, py::cast<const Tensor&>(b)));
     })
      .def("__rmatmul__", [](const Tensor& a, py::handle b) -> py::object {
        if (!is_tensor(b)) return py::reinterpret_borrow<py::object>(Py_NotImplemented);
        return py::cast(matmul(py::cast<const Tensor&>(b), a));
      });

  auto addmm_fn = [](const Tensor& input, const Tensor& m1, const Tensor& m2, py::handle beta,
                     py::handle alpha) {
    return addmm(input, m1, m2, to_scalar(beta, "addmm"), to_scalar(alpha, "addmm"));
  };
  cls.def("matmul", [](const Tensor& a, const Tensor& b) { return matmul(a, b); }, py::arg("other"))
      .def("mm", [](const Tensor& a, const Tensor& b) { return mm(a, b); }, py::arg("mat2"))
      .def("bmm", [](const Tensor& a, const Tensor& b) { return bmm(a, b); }, py::arg("mat2"))
      .def("mv", [](const Tensor& a, const Tensor& v) { return mv(a, v); }, py::arg("vec"))
      .def("dot", [](const Tensor& a, const Tensor& b) { return dot(a, b); }, py::arg("other"))
      .def("outer", [](const Tensor& a, const Tensor& b) { return outer(a, b); }, py::arg("vec2"))
      .def("addmm", addmm_fn, py::arg("mat1"), py::arg("mat2"), py::kw_only(),
           py::arg("beta") = 1, py::arg("alpha") = 1);

  m.def("matmul", [](const Tensor& a, const Tensor& b) { return matmul(a, b); }, py::arg("input"),
        py::arg("other"));
  m.def("mm", [](const Tensor& a, const Tensor& b) { return mm(a, b); }, py::arg("input"),
        py::arg("mat2"));
  m.def("bmm", [](const Tensor& a, const Tensor& b) { return bmm(a, b); }, py::arg("input"),
        py::arg("mat2"));
  m.def("mv", [](const Tensor& a, const Tensor& v) { return mv(a, v); }, py::arg("input"),
        py::arg("vec"));
  m.def("dot", [](const Tensor& a, const Tensor& b) { return dot(a, b); }, py::arg("input"),
        py::arg("other"));
  m.def("outer", [](const Tensor& a, const Tensor& b) { return outer(a, b); }, py::arg("input"),
        py::arg("vec2"));
  m.def("_get_float32_matmul_precision", [] { return int(float32_matmul_precision()); });
  m.def("_set_float32_matmul_precision",
        [](int p) { set_float32_matmul_precision(MatmulPrecision(p)); });
  m.def("_set_gemm_panels", &cpu::set_gemm_panels_enabled, py::arg("on"),
        "whether float32 GEMMs may use the packed-panel path (Note [Panel GEMM]); returns the "
        "previous setting");
  m.def("_linear", [](const Tensor& input, const Tensor& weight, py::handle bias) {
    return linear(input, weight, bias.is_none() ? Tensor() : py::cast<Tensor>(bias));
  }, py::arg("input"), py::arg("weight"), py::arg("bias") = py::none());
  m.def("_linear_relu", [](const Tensor& input, const Tensor& weight, py::handle bias)
                            -> py::object {
    // under autocast the modules run (their ops cast)
    if (bias.is_none() || autocast::is_enabled(input.device().type)) return py::none();
    Tensor out = linear_relu_no_grad(input, weight, py::cast<Tensor>(bias));
    return out.defined() ? py::cast(std::move(out)) : py::none();
  }, py::arg("input"), py::arg("weight"), py::arg("bias"));
  m.def("addmm", addmm_fn, py::arg("input"), py::arg("mat1"), py::arg("mat2"), py::kw_only(),
        py::arg("beta") = 1, py::arg("alpha") = 1);
}

}  // namespace ranvier::python
