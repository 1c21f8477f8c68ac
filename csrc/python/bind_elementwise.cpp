// Elementwise ops and Python operators on Tensor.
#include <pybind11/pybind11.h>

#include "ops/binary.h"
#include "ops/unary.h"
#include "python/convert.h"

namespace ranvier::python {

namespace {
py::object not_implemented() { return py::reinterpret_borrow<py::object>(Py_NotImplemented); }
bool is_operand(py::handle h) { return is_tensor(h) || is_number(h); }
}  // namespace

void bind_elementwise(py::module_& m, py::class_<Tensor>& cls) {
  // Arithmetic operators: a Tensor or a Python number on the other side.
  cls.def("__add__", [](const Tensor& a, py::handle b) -> py::object {
       if (is_tensor(b)) return py::cast(add(a, py::cast<const Tensor&>(b)));
       if (is_number(b)) return py::cast(add(a, to_scalar(b, "add")));
       return not_implemented();
     })
      .def("__radd__", [](const Tensor& a, py::handle b) -> py::object {
        if (!is_number(b)) return not_implemented();
        return py::cast(add(a, to_scalar(b, "add")));
      })
      .def("__iadd__", [](Tensor& a, py::handle b) -> Tensor& {
        return add_(a, tensor_or_scalar(b, a, "add_"));
      }, py::return_value_policy::reference_internal)
      .def("__sub__", [](const Tensor& a, py::handle b) -> py::object {
        if (!is_operand(b)) return not_implemented();
        return py::cast(sub(a, tensor_or_scalar(b, a, "sub")));
      })
      .def("__rsub__", [](const Tensor& a, py::handle b) -> py::object {
        if (!is_number(b)) return not_implemented();
        return py::cast(sub(wrap_scalar(to_scalar(b, "sub"), a), a));
      })
      .def("__isub__", [](Tensor& a, py::handle b) -> Tensor& {
        return sub_(a, tensor_or_scalar(b, a, "sub_"));
      }, py::return_value_policy::reference_internal)
      .def("__mul__", [](const Tensor& a, py::handle b) -> py::object {
        if (is_tensor(b)) return py::cast(mul(a, py::cast<const Tensor&>(b)));
        if (is_number(b)) return py::cast(mul(a, to_scalar(b, "mul")));
        return not_implemented();
      })
      .def("__rmul__", [](const Tensor& a, py::handle b) -> py::object {
        if (!is_number(b)) return not_implemented();
        return py::cast(mul(a, to_scalar(b, "mul")));
      })
      .def("__imul__", [](Tensor& a, py::handle b) -> Tensor& {
        return mul_(a, tensor_or_scalar(b, a, "mul_"));
      }, py::return_value_policy::reference_internal)
      .def("__truediv__", [](const Tensor& a, py::handle b) -> py::object {
        if (!is_operand(b)) return not_implemented();
        return py::cast(div(a, tensor_or_scalar(b, a, "div")));
      })
      .def("__rtruediv__", [](const Tensor& a, py::handle b) -> py::object {
        if (!is_number(b)) return not_implemented();
        return py::cast(div(wrap_scalar(to_scalar(b, "div"), a), a));
      })
      .def("__itruediv__", [](Tensor& a, py::handle b) -> Tensor& {
        return div_(a, tensor_or_scalar(b, a, "div_"));
      }, py::return_value_policy::reference_internal)
      .def("__neg__", [](const Tensor& a) { return neg(a); })
      .def("__abs__", [](const Tensor& a) { return abs(a); })
      .def("__eq__", [](const Tensor& a, py::handle b) -> py::object {
        if (!is_operand(b)) return py::bool_(false);
        return py::cast(eq(a, tensor_or_scalar(b, a, "eq")));
      })
      .def("__ne__", [](const Tensor& a, py::handle b) -> py::object {
        if (!is_operand(b)) return py::bool_(true);
        return py::cast(ne(a, tensor_or_scalar(b, a, "ne")));
      })
      .def("__lt__", [](const Tensor& a, py::handle b) { return lt(a, tensor_or_scalar(b, a, "lt")); })
      .def("__le__", [](const Tensor& a, py::handle b) { return le(a, tensor_or_scalar(b, a, "le")); })
      .def("__gt__", [](const Tensor& a, py::handle b) { return gt(a, tensor_or_scalar(b, a, "gt")); })
      .def("__ge__", [](const Tensor& a, py::handle b) { return ge(a, tensor_or_scalar(b, a, "ge")); });

  // Named methods and functions.
  cls.def("add", [](const Tensor& a, py::handle b, py::handle alpha) {
       return add(a, tensor_or_scalar(b, a, "add"), to_scalar(alpha, "add"));
     }, py::arg("other"), py::kw_only(), py::arg("alpha") = 1)
      .def("add_", [](Tensor& a, py::handle b, py::handle alpha) -> Tensor& {
        return add_(a, tensor_or_scalar(b, a, "add_"), to_scalar(alpha, "add_"));
      }, py::arg("other"), py::kw_only(), py::arg("alpha") = 1,
         py::return_value_policy::reference_internal)
      .def("sub", [](const Tensor& a, py::handle b, py::handle alpha) {
        return sub(a, tensor_or_scalar(b, a, "sub"), to_scalar(alpha, "sub"));
      }, py::arg("other"), py::kw_only(), py::arg("alpha") = 1)
      .def("sub_", [](Tensor& a, py::handle b, py::handle alpha) -> Tensor& {
        return sub_(a, tensor_or_scalar(b, a, "sub_"), to_scalar(alpha, "sub_"));
      }, py::arg("other"), py::kw_only(), py::arg("alpha") = 1,
         py::return_value_policy::reference_internal)
      .def("mul", [](const Tensor& a, py::handle b) { return mul(a, tensor_or_scalar(b, a, "mul")); })
      .def("mul_", [](Tensor& a, py::handle b) -> Tensor& {
        return mul_(a, tensor_or_scalar(b, a, "mul_"));
      }, py::return_value_policy::reference_internal)
      .def("div", [](const Tensor& a, py::handle b) { return div(a, tensor_or_scalar(b, a, "div")); })
      .def("div_", [](Tensor& a, py::handle b) -> Tensor& {
        return div_(a, tensor_or_scalar(b, a, "div_"));
      }, py::return_value_policy::reference_internal)
      .def("neg", [](const Tensor& a) { return neg(a); })
      .def("neg_", [](Tensor& a) -> Tensor& { return neg_(a); }, py::return_value_policy::reference_internal)
      .def("exp", [](const Tensor& a) { return exp(a); })
      .def("log", [](const Tensor& a) { return log(a); })
      .def("sqrt", [](const Tensor& a) { return sqrt(a); })
      .def("tanh", [](const Tensor& a) { return tanh(a); })
      .def("sigmoid", [](const Tensor& a) { return sigmoid(a); })
      .def("relu", [](const Tensor& a) { return relu(a); })
      .def("relu_", [](Tensor& a) -> Tensor& { return relu_(a); }, py::return_value_policy::reference_internal)
      .def("abs", [](const Tensor& a) { return abs(a); })
      .def("sign", [](const Tensor& a) { return sign(a); });

  m.def("add", [](const Tensor& a, py::handle b, py::handle alpha) {
    return add(a, tensor_or_scalar(b, a, "add"), to_scalar(alpha, "add"));
  }, py::arg("input"), py::arg("other"), py::kw_only(), py::arg("alpha") = 1);
  m.def("sub", [](const Tensor& a, py::handle b, py::handle alpha) {
    return sub(a, tensor_or_scalar(b, a, "sub"), to_scalar(alpha, "sub"));
  }, py::arg("input"), py::arg("other"), py::kw_only(), py::arg("alpha") = 1);
  m.def("mul", [](const Tensor& a, py::handle b) { return mul(a, tensor_or_scalar(b, a, "mul")); });
  m.def("div", [](const Tensor& a, py::handle b) { return div(a, tensor_or_scalar(b, a, "div")); });
  m.def("neg", [](const Tensor& a) { return neg(a); });
  m.def("exp", [](const Tensor& a) { return exp(a); });
  m.def("log", [](const Tensor& a) { return log(a); });
  m.def("sqrt", [](const Tensor& a) { return sqrt(a); });
  m.def("tanh", [](const Tensor& a) { return tanh(a); });
  m.def("sigmoid", [](const Tensor& a) { return sigmoid(a); });
  m.def("relu", [](const Tensor& a) { return relu(a); });
  m.def("abs", [](const Tensor& a) { return abs(a); });
  m.def("sign", [](const Tensor& a) { return sign(a); });
  m.def("eq", [](const Tensor& a, py::handle b) { return eq(a, tensor_or_scalar(b, a, "eq")); });
  m.def("ne", [](const Tensor& a, py::handle b) { return ne(a, tensor_or_scalar(b, a, "ne")); });
  m.def("lt", [](const Tensor& a, py::handle b) { return lt(a, tensor_or_scalar(b, a, "lt")); });
  m.def("le", [](const Tensor& a, py::handle b) { return le(a, tensor_or_scalar(b, a, "le")); });
  m.def("gt", [](const Tensor& a, py::handle b) { return gt(a, tensor_or_scalar(b, a, "gt")); });
  m.def("ge", [](const Tensor& a, py::handle b) { return ge(a, tensor_or_scalar(b, a, "ge")); });
}

}  // namespace ranvier::python
