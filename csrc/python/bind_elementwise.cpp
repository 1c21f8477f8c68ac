// Binary elementwise ops and the Python operators on Tensor (+ - * / // % ** & | ^ and their
// reflected and in-place forms, comparisons). The operators call the C++ ops directly: no
// Python-level wrappers on the `a + b` path. Unary and ternary ops: bind_unary.cpp.
#include <pybind11/pybind11.h>

#include "ops/binary.h"
#include "ops/factory.h"
#include "ops/iter.h"
#include "ops/unary.h"
#include "python/convert.h"

namespace ranvier::python {

namespace {
py::object not_implemented() { return py::reinterpret_borrow<py::object>(Py_NotImplemented); }
bool is_operand(py::handle h) { return is_tensor(h) || is_number(h); }

RoundingMode rounding_mode_arg(py::handle h, const char* op) {
  if (h.is_none()) return RoundingMode::None;
  RV_CHECK_TYPE(py::isinstance<py::str>(h), op,
                ": argument 'rounding_mode' must be str or None, not ",
                std::string(Py_TYPE(h.ptr())->tp_name));
  std::string s = py::cast<std::string>(h);
  return parse_rounding_mode(s.c_str(), op);
}

// A number on the left of a reflected operator, as a tensor promoted against t.
Tensor lhs_scalar(py::handle b, const Tensor& t, const char* op) {
  return wrap_scalar(to_scalar(b, op), t);
}

using BinFn = Tensor (*)(const Tensor&, const Tensor&);
using InplaceFn = Tensor& (*)(Tensor&, const Tensor&);

// Binds name as ranvier.<name>(input, other) and Tensor.<name>(other); other may be a number.
template <BinFn F>
void bind_binary(py::module_& m, py::class_<Tensor>& cls, const char* name) {
  m.def(name, [name](py::handle a, py::handle b) -> Tensor {
    if (is_tensor(a)) {
      const Tensor& at = py::cast<const Tensor&>(a);
      return F(at, tensor_or_scalar(b, at, name));
    }
    // a number as input, like remainder(-1, t)
    RV_CHECK_TYPE(is_tensor(b), name, "(): argument 'input' must be Tensor, not ",
                  std::string(Py_TYPE(a.ptr())->tp_name));
    const Tensor& bt = py::cast<const Tensor&>(b);
    return F(lhs_scalar(a, bt, name), bt);
  }, py::arg("input"), py::arg("other"));
  cls.def(name, [name](const Tensor& a, py::handle b) { return F(a, tensor_or_scalar(b, a, name)); },
          py::arg("other"));
}

// Binds Tensor.<name>(other) as an in-place op returning self.
template <InplaceFn F>
void bind_inplace(py::class_<Tensor>& cls, const char* name) {
  cls.def(name, [name](Tensor& a, py::handle b) -> Tensor& {
    return F(a, tensor_or_scalar(b, a, name));
  }, py::arg("other"), py::return_value_policy::reference_internal);
}

template <BinaryOp Op>
Tensor& nograd_inplace(Tensor& a, const Tensor& b) {
  static const char* names[] = {"eq_", "ne_", "lt_", "le_", "gt_", "ge_", "logical_and_",
                                "logical_or_", "logical_xor_"};
  const char* name = binary_bool_output(Op) ? names[int(Op) - int(BinaryOp::Eq)]
                     : Op == BinaryOp::BitAnd ? "bitwise_and_"
                     : Op == BinaryOp::BitOr  ? "bitwise_or_"
                                              : "bitwise_xor_";
  return binary_inplace_nograd(Op, a, b, name);
}

Tensor& div_true_(Tensor& a, const Tensor& b) { return div_(a, b); }

Tensor pow_any(const Tensor& a, py::handle e) {
  if (is_tensor(e)) return pow(a, py::cast<const Tensor&>(e));
  return pow(a, to_scalar(e, "pow"));
}

// A tensor, or a Python number as a wrapped 0-d tensor of its default dtype.
Tensor promotion_operand(py::handle h, const char* op) {
  if (is_tensor(h)) return py::cast<Tensor>(h);
  Scalar s = to_scalar(h, op);
  return scalar_tensor(s, s.default_dtype(), Device(), true);
}

void check_bitwise_operand(const Tensor& a, const char* op) {
  RV_CHECK_TYPE(!a.is_floating_point(), op,
                " is only implemented on integer and Boolean-type tensors");
}
}  // namespace

void bind_elementwise(py::module_& m, py::class_<Tensor>& cls) {
  // ---- type promotion ----
  m.def("result_type", [](py::handle a, py::handle b) {
    Tensor ta = promotion_operand(a, "result_type"), tb = promotion_operand(b, "result_type");
    return result_type({&ta, &tb});
  }, py::arg("tensor1"), py::arg("tensor2"));
  m.def("promote_types", &promote_types, py::arg("type1"), py::arg("type2"));
  m.def("can_cast", &can_cast, py::arg("from_"), py::arg("to"));

  // ---- operators ----
  cls.def("__add__", [](const Tensor& a, py::handle b) -> py::object {
       if (is_tensor(b)) return py::cast(add(a, py::cast<const Tensor&>(b)));
       if (is_number(b)) return py::cast(add(a, to_scalar(b, "add")));
       return not_implemented();
     })
      .def("__radd__", [](const Tensor& a, py::handle b) -> py::object {
        if (!is_number(b)) return not_implemented();
        return py::cast(add(a, to_scalar(b, "add")));  // addition commutes
      })
      .def("__iadd__", [](Tensor& a, py::handle b) -> Tensor& {
        return add_(a, tensor_or_scalar(b, a, "add_"));
      }, py::return_value_policy::reference_internal)
      .def("__sub__", [](const Tensor& a, py::handle b) -> py::object {
        if (is_tensor(b)) return py::cast(sub(a, py::cast<const Tensor&>(b)));
        if (is_number(b)) return py::cast(sub(a, to_scalar(b, "sub")));
        return not_implemented();
      })
      .def("__rsub__", [](const Tensor& a, py::handle b) -> py::object {
        if (!is_number(b)) return not_implemented();
        return py::cast(rsub(a, to_scalar(b, "sub")));
      })
      .def("__isub__", [](Tensor& a, py::handle b) -> Tensor& {
        if (is_number(b)) return sub_(a, to_scalar(b, "sub_"));
        return sub_(a, tensor_or_scalar(b, a, "sub_"));
      }, py::return_value_policy::reference_internal)
      .def("__mul__", [](const Tensor& a, py::handle b) -> py::object {
        if (is_tensor(b)) return py::cast(mul(a, py::cast<const Tensor&>(b)));
        if (is_number(b)) return py::cast(mul(a, to_scalar(b, "mul")));
        return not_implemented();
      })
      .def("__rmul__", [](const Tensor& a, py::handle b) -> py::object {
        if (!is_number(b)) return not_implemented();
        return py::cast(mul(a, to_scalar(b, "mul")));  // multiplication commutes
      })
      .def("__imul__", [](Tensor& a, py::handle b) -> Tensor& {
        return mul_(a, tensor_or_scalar(b, a, "mul_"));
      }, py::return_value_policy::reference_internal)
      .def("__truediv__", [](const Tensor& a, py::handle b) -> py::object {
        if (is_tensor(b)) return py::cast(div(a, py::cast<const Tensor&>(b)));
        if (is_number(b)) return py::cast(div(a, to_scalar(b, "div")));
        return not_implemented();
      })
      .def("__rtruediv__", [](const Tensor& a, py::handle b) -> py::object {
        if (!is_number(b)) return not_implemented();
        return py::cast(rdiv(a, to_scalar(b, "div")));
      })
      .def("__itruediv__", [](Tensor& a, py::handle b) -> Tensor& {
        return div_(a, tensor_or_scalar(b, a, "div_"));
      }, py::return_value_policy::reference_internal)
      .def("__floordiv__", [](const Tensor& a, py::handle b) -> py::object {
        if (!is_operand(b)) return not_implemented();
        return py::cast(floor_divide(a, tensor_or_scalar(b, a, "floor_divide")));
      })
      .def("__rfloordiv__", [](const Tensor& a, py::handle b) -> py::object {
        if (!is_number(b)) return not_implemented();
        return py::cast(floor_divide(lhs_scalar(b, a, "floor_divide"), a));
      })
      .def("__ifloordiv__", [](Tensor& a, py::handle b) -> Tensor& {
        return floor_divide_(a, tensor_or_scalar(b, a, "floor_divide_"));
      }, py::return_value_policy::reference_internal)
      .def("__mod__", [](const Tensor& a, py::handle b) -> py::object {
        if (!is_operand(b)) return not_implemented();
        return py::cast(remainder(a, tensor_or_scalar(b, a, "remainder")));
      })
      .def("__rmod__", [](const Tensor& a, py::handle b) -> py::object {
        if (!is_number(b)) return not_implemented();
        return py::cast(remainder(lhs_scalar(b, a, "remainder"), a));
      })
      .def("__imod__", [](Tensor& a, py::handle b) -> Tensor& {
        return remainder_(a, tensor_or_scalar(b, a, "remainder_"));
      }, py::return_value_policy::reference_internal)
      .def("__pow__", [](const Tensor& a, py::handle b) -> py::object {
        if (!is_operand(b)) return not_implemented();
        return py::cast(pow_any(a, b));
      })
      .def("__rpow__", [](const Tensor& a, py::handle b) -> py::object {
        if (!is_number(b)) return not_implemented();
        return py::cast(pow(to_scalar(b, "pow"), a));
      })
      .def("__ipow__", [](Tensor& a, py::handle b) -> Tensor& {
        if (is_tensor(b)) return pow_(a, py::cast<const Tensor&>(b));
        return pow_(a, to_scalar(b, "pow_"));
      }, py::return_value_policy::reference_internal)
      .def("__and__", [](const Tensor& a, py::handle b) -> py::object {
        if (!is_operand(b)) return not_implemented();
        return py::cast(bitwise_and(a, tensor_or_scalar(b, a, "bitwise_and")));
      })
      .def("__rand__", [](const Tensor& a, py::handle b) -> py::object {
        if (!is_number(b)) return not_implemented();
        return py::cast(bitwise_and(lhs_scalar(b, a, "bitwise_and"), a));
      })
      .def("__iand__", [](Tensor& a, py::handle b) -> Tensor& {
        return nograd_inplace<BinaryOp::BitAnd>(a, tensor_or_scalar(b, a, "bitwise_and_"));
      }, py::return_value_policy::reference_internal)
      .def("__or__", [](const Tensor& a, py::handle b) -> py::object {
        if (!is_operand(b)) return not_implemented();
        return py::cast(bitwise_or(a, tensor_or_scalar(b, a, "bitwise_or")));
      })
      .def("__ror__", [](const Tensor& a, py::handle b) -> py::object {
        if (!is_number(b)) return not_implemented();
        return py::cast(bitwise_or(lhs_scalar(b, a, "bitwise_or"), a));
      })
      .def("__ior__", [](Tensor& a, py::handle b) -> Tensor& {
        return nograd_inplace<BinaryOp::BitOr>(a, tensor_or_scalar(b, a, "bitwise_or_"));
      }, py::return_value_policy::reference_internal)
      .def("__xor__", [](const Tensor& a, py::handle b) -> py::object {
        if (!is_operand(b)) return not_implemented();
        return py::cast(bitwise_xor(a, tensor_or_scalar(b, a, "bitwise_xor")));
      })
      .def("__rxor__", [](const Tensor& a, py::handle b) -> py::object {
        if (!is_number(b)) return not_implemented();
        return py::cast(bitwise_xor(lhs_scalar(b, a, "bitwise_xor"), a));
      })
      .def("__ixor__", [](Tensor& a, py::handle b) -> Tensor& {
        return nograd_inplace<BinaryOp::BitXor>(a, tensor_or_scalar(b, a, "bitwise_xor_"));
      }, py::return_value_policy::reference_internal)
      .def("__invert__", [](const Tensor& a) {
        check_bitwise_operand(a, "~ (operator.invert)");
        return bitwise_not(a);
      })
      .def("__neg__", [](const Tensor& a) { return neg(a); })
      .def("__pos__", [](const Tensor& a) { return a; })
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

  // ---- add / sub (alpha), div (rounding_mode), pow (number or tensor exponent) ----
  auto add_fn = [](const Tensor& a, py::handle b, py::handle alpha) {
    return add(a, tensor_or_scalar(b, a, "add"), to_scalar(alpha, "add"));
  };
  auto sub_fn = [](const Tensor& a, py::handle b, py::handle alpha) {
    if (is_number(b)) return sub(a, to_scalar(b, "sub"), to_scalar(alpha, "sub"));
    return sub(a, tensor_or_scalar(b, a, "sub"), to_scalar(alpha, "sub"));
  };
  auto div_fn = [](const Tensor& a, py::handle b, py::handle mode) {
    if (is_number(b)) return div(a, to_scalar(b, "div"), rounding_mode_arg(mode, "div"));
    return div(a, tensor_or_scalar(b, a, "div"), rounding_mode_arg(mode, "div"));
  };
  for (const char* n : {"add"}) {
    m.def(n, add_fn, py::arg("input"), py::arg("other"), py::kw_only(), py::arg("alpha") = 1);
    cls.def(n, add_fn, py::arg("other"), py::kw_only(), py::arg("alpha") = 1);
  }
  for (const char* n : {"sub", "subtract"}) {
    m.def(n, sub_fn, py::arg("input"), py::arg("other"), py::kw_only(), py::arg("alpha") = 1);
    cls.def(n, sub_fn, py::arg("other"), py::kw_only(), py::arg("alpha") = 1);
  }
  for (const char* n : {"div", "divide"}) {
    m.def(n, div_fn, py::arg("input"), py::arg("other"), py::kw_only(),
          py::arg("rounding_mode") = py::none());
    cls.def(n, div_fn, py::arg("other"), py::kw_only(), py::arg("rounding_mode") = py::none());
  }
  cls.def("add_", [](Tensor& a, py::handle b, py::handle alpha) -> Tensor& {
       return add_(a, tensor_or_scalar(b, a, "add_"), to_scalar(alpha, "add_"));
     }, py::arg("other"), py::kw_only(), py::arg("alpha") = 1,
     py::return_value_policy::reference_internal);
  for (const char* n : {"sub_", "subtract_"})
    cls.def(n, [](Tensor& a, py::handle b, py::handle alpha) -> Tensor& {
      if (is_number(b)) return sub_(a, to_scalar(b, "sub_"), to_scalar(alpha, "sub_"));
      return sub_(a, tensor_or_scalar(b, a, "sub_"), to_scalar(alpha, "sub_"));
    }, py::arg("other"), py::kw_only(), py::arg("alpha") = 1,
       py::return_value_policy::reference_internal);
  for (const char* n : {"div_", "divide_"})
    cls.def(n, [](Tensor& a, py::handle b, py::handle mode) -> Tensor& {
      return div_(a, tensor_or_scalar(b, a, "div_"), rounding_mode_arg(mode, "div_"));
    }, py::arg("other"), py::kw_only(), py::arg("rounding_mode") = py::none(),
       py::return_value_policy::reference_internal);
  m.def("pow", [](py::handle a, py::handle e) -> Tensor {
    if (is_tensor(a)) return pow_any(py::cast<const Tensor&>(a), e);
    RV_CHECK_TYPE(is_tensor(e), "pow: expected a Tensor for 'input' or 'exponent', but got ",
                  std::string(Py_TYPE(a.ptr())->tp_name), " and ",
                  std::string(Py_TYPE(e.ptr())->tp_name));
    return pow(to_scalar(a, "pow"), py::cast<const Tensor&>(e));
  }, py::arg("input"), py::arg("exponent"));
  cls.def("pow", &pow_any, py::arg("exponent"));
  cls.def("pow_", [](Tensor& a, py::handle e) -> Tensor& {
    if (is_tensor(e)) return pow_(a, py::cast<const Tensor&>(e));
    return pow_(a, to_scalar(e, "pow_"));
  }, py::arg("exponent"), py::return_value_policy::reference_internal);

  // ---- the rest: function + method (+ in-place method) ----
  bind_binary<mul>(m, cls, "mul");
  bind_binary<mul>(m, cls, "multiply");
  auto true_div_fn = [](const Tensor& a, py::handle b) {
    if (is_number(b)) return div(a, to_scalar(b, "true_divide"));
    return div(a, tensor_or_scalar(b, a, "true_divide"));
  };
  m.def("true_divide", true_div_fn, py::arg("input"), py::arg("other"));
  cls.def("true_divide", true_div_fn, py::arg("other"));
  bind_binary<floor_divide>(m, cls, "floor_divide");
  bind_binary<remainder>(m, cls, "remainder");
  bind_binary<fmod>(m, cls, "fmod");
  bind_binary<minimum>(m, cls, "minimum");
  bind_binary<maximum>(m, cls, "maximum");
  bind_binary<atan2>(m, cls, "atan2");
  bind_binary<atan2>(m, cls, "arctan2");
  bind_binary<eq>(m, cls, "eq");
  bind_binary<ne>(m, cls, "ne");
  bind_binary<lt>(m, cls, "lt");
  bind_binary<le>(m, cls, "le");
  bind_binary<gt>(m, cls, "gt");
  bind_binary<ge>(m, cls, "ge");
  bind_binary<ne>(m, cls, "not_equal");
  bind_binary<lt>(m, cls, "less");
  bind_binary<le>(m, cls, "less_equal");
  bind_binary<gt>(m, cls, "greater");
  bind_binary<ge>(m, cls, "greater_equal");
  bind_binary<logical_and>(m, cls, "logical_and");
  bind_binary<logical_or>(m, cls, "logical_or");
  bind_binary<logical_xor>(m, cls, "logical_xor");
  bind_binary<bitwise_and>(m, cls, "bitwise_and");
  bind_binary<bitwise_or>(m, cls, "bitwise_or");
  bind_binary<bitwise_xor>(m, cls, "bitwise_xor");

  cls.def("mul_", [](Tensor& a, py::handle b) -> Tensor& {
    if (is_number(b)) return mul_(a, to_scalar(b, "mul_"));
    return mul_(a, tensor_or_scalar(b, a, "mul_"));
  }, py::arg("other"), py::return_value_policy::reference_internal);
  bind_inplace<mul_>(cls, "multiply_");
  bind_inplace<div_true_>(cls, "true_divide_");
  bind_inplace<floor_divide_>(cls, "floor_divide_");
  bind_inplace<remainder_>(cls, "remainder_");
  bind_inplace<fmod_>(cls, "fmod_");
  bind_inplace<atan2_>(cls, "atan2_");
  bind_inplace<atan2_>(cls, "arctan2_");
  bind_inplace<nograd_inplace<BinaryOp::Eq>>(cls, "eq_");
  bind_inplace<nograd_inplace<BinaryOp::Ne>>(cls, "ne_");
  bind_inplace<nograd_inplace<BinaryOp::Lt>>(cls, "lt_");
  bind_inplace<nograd_inplace<BinaryOp::Le>>(cls, "le_");
  bind_inplace<nograd_inplace<BinaryOp::Gt>>(cls, "gt_");
  bind_inplace<nograd_inplace<BinaryOp::Ge>>(cls, "ge_");
  bind_inplace<nograd_inplace<BinaryOp::LogicalAnd>>(cls, "logical_and_");
  bind_inplace<nograd_inplace<BinaryOp::LogicalOr>>(cls, "logical_or_");
  bind_inplace<nograd_inplace<BinaryOp::LogicalXor>>(cls, "logical_xor_");
  bind_inplace<nograd_inplace<BinaryOp::BitAnd>>(cls, "bitwise_and_");
  bind_inplace<nograd_inplace<BinaryOp::BitOr>>(cls, "bitwise_or_");
  bind_inplace<nograd_inplace<BinaryOp::BitXor>>(cls, "bitwise_xor_");
}

}  // namespace ranvier::python
