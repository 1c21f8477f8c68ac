// Unary elementwise ops, activations and the ternary ops (where, lerp, clamp/clip, addcmul,
// addcdiv) as ranvier.<op> functions and Tensor.<op> methods, with their in-place forms.
#include <pybind11/pybind11.h>

#include <optional>

#include "ops/binary.h"
#include "ops/factory.h"
#include "ops/ternary.h"
#include "ops/unary.h"
#include "python/convert.h"

namespace ranvier::python {

namespace {
using UnFn = Tensor (*)(const Tensor&);
using UnInplaceFn = Tensor& (*)(Tensor&);

// ranvier.<name>(input), Tensor.<name>(), and with an in-place form ranvier.<name>_(input),
// Tensor.<name>_().
void bind_unary(py::module_& m, py::class_<Tensor>& cls, const char* name, UnFn f,
                const char* inplace_name = nullptr, UnInplaceFn fi = nullptr) {
  m.def(name, f, py::arg("input"));
  cls.def(name, f);
  if (fi) {
    m.def(inplace_name, fi, py::arg("input"), py::return_value_policy::reference_internal);
    cls.def(inplace_name, fi, py::return_value_policy::reference_internal);
  }
}

std::optional<Scalar> opt_scalar(py::handle h, const char* op) {
  if (h.is_none()) return std::nullopt;
  return to_scalar(h, op);
}

// A bound given as a tensor, a number (wrapped against t) or None (undefined).
Tensor bound_tensor(py::handle h, const Tensor& t, const char* op) {
  if (h.is_none()) return Tensor();
  return tensor_or_scalar(h, t, op);
}

Tensor clamp_any(const Tensor& t, py::handle lo, py::handle hi) {
  if (is_tensor(lo) || is_tensor(hi))
    return clamp(t, bound_tensor(lo, t, "clamp"), bound_tensor(hi, t, "clamp"));
  return clamp(t, opt_scalar(lo, "clamp"), opt_scalar(hi, "clamp"));
}

Tensor& clamp_any_(Tensor& t, py::handle lo, py::handle hi) {
  if (is_tensor(lo) || is_tensor(hi))
    return clamp_(t, bound_tensor(lo, t, "clamp_"), bound_tensor(hi, t, "clamp_"));
  return clamp_(t, opt_scalar(lo, "clamp_"), opt_scalar(hi, "clamp_"));
}

Tensor where_any(const Tensor& cond, py::handle a, py::handle b) {
  if (is_tensor(a) && is_tensor(b))
    return where(cond, py::cast<const Tensor&>(a), py::cast<const Tensor&>(b));
  if (is_tensor(a)) {
    const Tensor& at = py::cast<const Tensor&>(a);
    return where(cond, at, tensor_or_scalar(b, at, "where"));
  }
  if (is_tensor(b)) {
    const Tensor& bt = py::cast<const Tensor&>(b);
    return where(cond, tensor_or_scalar(a, bt, "where"), bt);
  }
  Scalar sa = to_scalar(a, "where"), sb = to_scalar(b, "where");
  Tensor ta = scalar_tensor(sa, sa.default_dtype(), cond.device(), true);
  Tensor tb = scalar_tensor(sb, sb.default_dtype(), cond.device(), true);
  return where(cond, ta, tb);
}

Tensor lerp_any(const Tensor& s, const Tensor& e, py::handle w) {
  if (is_tensor(w)) return lerp(s, e, py::cast<const Tensor&>(w));
  return lerp(s, e, to_scalar(w, "lerp"));
}

Tensor& lerp_any_(Tensor& s, const Tensor& e, py::handle w) {
  if (is_tensor(w)) return lerp_(s, e, py::cast<const Tensor&>(w));
  return lerp_(s, e, to_scalar(w, "lerp_"));
}

Tensor nan_to_num_any(const Tensor& t, py::handle nan, py::handle pos, py::handle negv) {
  double n = nan.is_none() ? 0.0 : to_scalar(nan, "nan_to_num").to_double();
  return nan_to_num(t, n, !pos.is_none(), pos.is_none() ? 0 : to_scalar(pos, "nan_to_num").to_double(),
                    !negv.is_none(), negv.is_none() ? 0 : to_scalar(negv, "nan_to_num").to_double());
}

Tensor& nan_to_num_any_(Tensor& t, py::handle nan, py::handle pos, py::handle negv) {
  double n = nan.is_none() ? 0.0 : to_scalar(nan, "nan_to_num_").to_double();
  return nan_to_num_(t, n, !pos.is_none(),
                     pos.is_none() ? 0 : to_scalar(pos, "nan_to_num_").to_double(), !negv.is_none(),
                     negv.is_none() ? 0 : to_scalar(negv, "nan_to_num_").to_double());
}

int64_t int_arg(py::handle h, const char* op, const char* arg) {
  RV_CHECK_TYPE(PyLong_Check(h.ptr()) && !PyBool_Check(h.ptr()), op, ": argument '", arg,
                "' must be int, not ", std::string(Py_TYPE(h.ptr())->tp_name));
  return py::cast<int64_t>(h);
}

double float_arg(py::handle h, const char* op, const char* arg) {
  RV_CHECK_TYPE(is_number(h) && !PyBool_Check(h.ptr()), op, ": argument '", arg,
                "' must be a number, not ", std::string(Py_TYPE(h.ptr())->tp_name));
  return to_scalar(h, op).to_double();
}

GeluApproximate approximate_arg(py::handle h) {
  RV_CHECK_TYPE(py::isinstance<py::str>(h), "gelu: argument 'approximate' must be str, not ",
                std::string(Py_TYPE(h.ptr())->tp_name));
  return parse_gelu_approximate(py::cast<std::string>(h));
}
}  // namespace

void bind_unary(py::module_& m, py::class_<Tensor>& cls) {
#define RV_BIND_UNARY(name)                                                           \
  bind_unary(m, cls, #name, static_cast<UnFn>(&name), #name "_",                     \
             static_cast<UnInplaceFn>(&name##_));
  RV_FORALL_UNARY_OPS(RV_BIND_UNARY)
#undef RV_BIND_UNARY
  bind_unary(m, cls, "negative", &neg, "negative_", &neg_);
  bind_unary(m, cls, "absolute", &abs, "absolute_", &abs_);
  bind_unary(m, cls, "arcsin", &asin, "arcsin_", &asin_);
  bind_unary(m, cls, "arccos", &acos, "arccos_", &acos_);
  bind_unary(m, cls, "arctan", &atan, "arctan_", &atan_);
  bind_unary(m, cls, "fix", &trunc, "fix_", &trunc_);
  bind_unary(m, cls, "relu", &relu, "relu_", &relu_);
  bind_unary(m, cls, "isnan", &isnan);
  bind_unary(m, cls, "isinf", &isinf);
  bind_unary(m, cls, "isfinite", &isfinite);
  bind_unary(m, cls, "signbit", &signbit);

  auto round_fn = [](const Tensor& t, py::handle d) { return round(t, int_arg(d, "round", "decimals")); };
  auto round_fn_ = [](Tensor& t, py::handle d) -> Tensor& {
    return round_(t, int_arg(d, "round_", "decimals"));
  };
  m.def("round", round_fn, py::arg("input"), py::kw_only(), py::arg("decimals") = 0);
  cls.def("round", round_fn, py::kw_only(), py::arg("decimals") = 0);
  m.def("round_", round_fn_, py::arg("input"), py::kw_only(), py::arg("decimals") = 0,
        py::return_value_policy::reference_internal);
  cls.def("round_", round_fn_, py::kw_only(), py::arg("decimals") = 0,
          py::return_value_policy::reference_internal);

  m.def("nan_to_num", &nan_to_num_any, py::arg("input"), py::arg("nan") = 0.0,
        py::arg("posinf") = py::none(), py::arg("neginf") = py::none());
  cls.def("nan_to_num", &nan_to_num_any, py::arg("nan") = 0.0, py::arg("posinf") = py::none(),
          py::arg("neginf") = py::none());
  m.def("nan_to_num_", &nan_to_num_any_, py::arg("input"), py::arg("nan") = 0.0,
        py::arg("posinf") = py::none(), py::arg("neginf") = py::none(),
        py::return_value_policy::reference_internal);
  cls.def("nan_to_num_", &nan_to_num_any_, py::arg("nan") = 0.0, py::arg("posinf") = py::none(),
          py::arg("neginf") = py::none(), py::return_value_policy::reference_internal);

  // ---- activations ----
  auto gelu_fn = [](const Tensor& t, py::handle a) { return gelu(t, approximate_arg(a)); };
  m.def("gelu", gelu_fn, py::arg("input"), py::kw_only(), py::arg("approximate") = "none");
  cls.def("gelu", gelu_fn, py::kw_only(), py::arg("approximate") = "none");
  bind_unary(m, cls, "silu", &silu, "silu_", &silu_);
  auto softplus_fn = [](const Tensor& t, py::handle beta, py::handle threshold) {
    return softplus(t, float_arg(beta, "softplus", "beta"),
                    float_arg(threshold, "softplus", "threshold"));
  };
  m.def("softplus", softplus_fn, py::arg("input"), py::arg("beta") = 1.0,
        py::arg("threshold") = 20.0);
  cls.def("softplus", softplus_fn, py::arg("beta") = 1.0, py::arg("threshold") = 20.0);
  m.def("leaky_relu", [](const Tensor& t, py::handle slope) {
    return leaky_relu(t, float_arg(slope, "leaky_relu", "negative_slope"));
  }, py::arg("input"), py::arg("negative_slope") = 0.01);

  // ---- clamp / clip ----
  for (const char* n : {"clamp", "clip"}) {
    m.def(n, &clamp_any, py::arg("input"), py::arg("min") = py::none(), py::arg("max") = py::none());
    cls.def(n, &clamp_any, py::arg("min") = py::none(), py::arg("max") = py::none());
  }
  for (const char* n : {"clamp_", "clip_"}) {
    m.def(n, &clamp_any_, py::arg("input"), py::arg("min") = py::none(),
          py::arg("max") = py::none(), py::return_value_policy::reference_internal);
    cls.def(n, &clamp_any_, py::arg("min") = py::none(), py::arg("max") = py::none(),
            py::return_value_policy::reference_internal);
  }
  m.def("clamp_min", [](const Tensor& t, py::handle lo) { return clamp_any(t, lo, py::none()); });
  m.def("clamp_max", [](const Tensor& t, py::handle hi) { return clamp_any(t, py::none(), hi); });
  cls.def("clamp_min", [](const Tensor& t, py::handle lo) { return clamp_any(t, lo, py::none()); });
  cls.def("clamp_max", [](const Tensor& t, py::handle hi) { return clamp_any(t, py::none(), hi); });

  // ---- where, lerp, addcmul, addcdiv ----
  m.def("where", &where_any, py::arg("condition"), py::arg("input"), py::arg("other"));
  cls.def("where", [](const Tensor& self, const Tensor& cond, py::handle other) {
    return where(cond, self, tensor_or_scalar(other, self, "where"));
  }, py::arg("condition"), py::arg("other"));
  m.def("lerp", &lerp_any, py::arg("input"), py::arg("end"), py::arg("weight"));
  cls.def("lerp", &lerp_any, py::arg("end"), py::arg("weight"));
  cls.def("lerp_", &lerp_any_, py::arg("end"), py::arg("weight"),
          py::return_value_policy::reference_internal);
  auto addcmul_fn = [](const Tensor& s, const Tensor& a, const Tensor& b, py::handle v) {
    return addcmul(s, a, b, to_scalar(v, "addcmul"));
  };
  auto addcdiv_fn = [](const Tensor& s, const Tensor& a, const Tensor& b, py::handle v) {
    return addcdiv(s, a, b, to_scalar(v, "addcdiv"));
  };
  m.def("addcmul", addcmul_fn, py::arg("input"), py::arg("tensor1"), py::arg("tensor2"),
        py::kw_only(), py::arg("value") = 1);
  cls.def("addcmul", addcmul_fn, py::arg("tensor1"), py::arg("tensor2"), py::kw_only(),
          py::arg("value") = 1);
  m.def("addcdiv", addcdiv_fn, py::arg("input"), py::arg("tensor1"), py::arg("tensor2"),
        py::kw_only(), py::arg("value") = 1);
  cls.def("addcdiv", addcdiv_fn, py::arg("tensor1"), py::arg("tensor2"), py::kw_only(),
          py::arg("value") = 1);
  cls.def("addcmul_", [](Tensor& s, const Tensor& a, const Tensor& b, py::handle v) -> Tensor& {
    return addcmul_(s, a, b, to_scalar(v, "addcmul_"));
  }, py::arg("tensor1"), py::arg("tensor2"), py::kw_only(), py::arg("value") = 1,
     py::return_value_policy::reference_internal);
  cls.def("addcdiv_", [](Tensor& s, const Tensor& a, const Tensor& b, py::handle v) -> Tensor& {
    return addcdiv_(s, a, b, to_scalar(v, "addcdiv_"));
  }, py::arg("tensor1"), py::arg("tensor2"), py::kw_only(), py::arg("value") = 1,
     py::return_value_policy::reference_internal);
}

}  // namespace ranvier::python
