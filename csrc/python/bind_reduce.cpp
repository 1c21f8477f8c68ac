// Reductions and scans: Tensor methods and ranvier.<name> functions with PyTorch's signatures.
// max/min along a dim return ranvier.return_types.max / .min (named tuples with .values and
// .indices, like torch.return_types).
#include <pybind11/pybind11.h>

#include <cmath>
#include <limits>
#include <string>

#include "ops/reduce.h"
#include "python/convert.h"

namespace ranvier::python {

namespace {

OptDType opt_dtype(py::handle h) {
  if (h.is_none()) return std::nullopt;
  return to_dtype_arg(h, DType::Float32);
}

// Defines the Tensor method and the module function (which takes `input` first).
template <typename F, typename... Extra>
void def_both(py::module_& m, py::class_<Tensor>& cls, const char* name, F&& f,
              const Extra&... extra) {
  cls.def(name, f, extra...);
  m.def(name, f, py::arg("input"), extra...);
}

// var/std: (dim, unbiased, keepdim, correction) as PyTorch accepts them: x.var(False) means
// unbiased=False; correction (keyword) and unbiased are exclusive.
struct VarArgs {
  std::vector<int64_t> dims;
  double correction = 1.0;
};
VarArgs var_args(py::handle dim, py::handle unbiased, py::handle correction, const char* op) {
  VarArgs a;
  if (PyBool_Check(dim.ptr())) {
    RV_CHECK_TYPE(unbiased.is_none(), op, "(): got unbiased twice");
    unbiased = dim;
    dim = py::none();
  }
  a.dims = to_dims(dim, op);
  if (!correction.is_none()) {
    RV_CHECK(unbiased.is_none(), op, "(): cannot specify both correction and unbiased arguments");
    a.correction = to_scalar(correction, op).to_double();
  } else if (!unbiased.is_none()) {
    a.correction = py::cast<bool>(unbiased) ? 1.0 : 0.0;
  }
  return a;
}

double norm_order(py::handle p) {
  if (p.is_none()) return 2.0;
  if (py::isinstance<py::str>(p)) {
    std::string s = py::cast<std::string>(p);
    if (s == "fro") return 2.0;
    RV_CHECK_NOT_IMPLEMENTED(s != "nuc", "norm: the nuclear norm ('nuc') is not implemented");
    RV_CHECK_VALUE(false, "norm: unknown norm order '", s, "' (use a number, 'fro' or inf)");
  }
  return to_scalar(p, "norm").to_double();
}

}  // namespace

void bind_reduce(py::module_& m, py::class_<Tensor>& cls) {
  py::module_ rt = py::hasattr(m, "return_types")
                       ? py::reinterpret_borrow<py::module_>(m.attr("return_types"))
                       : m.def_submodule("return_types", "named tuples returned by ops");
  py::object namedtuple = py::module_::import("collections").attr("namedtuple");
  for (const char* n : {"max", "min"}) {
    py::object tp = namedtuple(n, py::make_tuple("values", "indices"));
    tp.attr("__module__") = "ranvier.return_types";
    rt.attr(n) = tp;
  }
  py::object max_type = rt.attr("max"), min_type = rt.attr("min");

  def_both(m, cls, "sum", [](const Tensor& t, py::handle dim, bool keepdim, py::handle dtype) {
    return sum(t, to_dims(dim, "sum"), keepdim, opt_dtype(dtype));
  }, py::arg("dim") = py::none(), py::arg("keepdim") = false, py::kw_only(),
     py::arg("dtype") = py::none());
  def_both(m, cls, "mean", [](const Tensor& t, py::handle dim, bool keepdim, py::handle dtype) {
    return mean(t, to_dims(dim, "mean"), keepdim, opt_dtype(dtype));
  }, py::arg("dim") = py::none(), py::arg("keepdim") = false, py::kw_only(),
     py::arg("dtype") = py::none());
  def_both(m, cls, "prod", [](const Tensor& t, py::handle dim, bool keepdim, py::handle dtype) {
    return prod(t, to_dims(dim, "prod"), keepdim, opt_dtype(dtype));
  }, py::arg("dim") = py::none(), py::arg("keepdim") = false, py::kw_only(),
     py::arg("dtype") = py::none());
  def_both(m, cls, "all", [](const Tensor& t, py::handle dim, bool keepdim) {
    return all(t, to_dims(dim, "all"), keepdim);
  }, py::arg("dim") = py::none(), py::arg("keepdim") = false);
  def_both(m, cls, "any", [](const Tensor& t, py::handle dim, bool keepdim) {
    return any(t, to_dims(dim, "any"), keepdim);
  }, py::arg("dim") = py::none(), py::arg("keepdim") = false);
  def_both(m, cls, "amax", [](const Tensor& t, py::handle dim, bool keepdim) {
    return amax(t, to_dims(dim, "amax"), keepdim);
  }, py::arg("dim") = py::tuple(), py::arg("keepdim") = false);
  def_both(m, cls, "amin", [](const Tensor& t, py::handle dim, bool keepdim) {
    return amin(t, to_dims(dim, "amin"), keepdim);
  }, py::arg("dim") = py::tuple(), py::arg("keepdim") = false);

  // max/min: no dim -> 0-d value; a dim -> (values, indices); a tensor -> elementwise maximum.
  auto extreme = [](bool is_max, py::object result_type) {
    return [is_max, result_type](const Tensor& t, py::handle dim, bool keepdim) -> py::object {
      const char* name = is_max ? "max" : "min";
      if (dim.is_none()) {
        RV_CHECK_TYPE(!keepdim, name, "(): keepdim needs a dim");
        return py::cast(is_max ? max(t) : min(t));
      }
      if (is_tensor(dim)) {  // max(input, other): the elementwise family's maximum/minimum
        py::module_ rv = py::module_::import("ranvier");
        const char* fn = is_max ? "maximum" : "minimum";
        RV_CHECK_NOT_IMPLEMENTED(py::hasattr(rv, fn), name, "(input, other): ranvier.", fn,
                                 " is not available");
        return rv.attr(fn)(t, dim);
      }
      RV_CHECK_TYPE(PyLong_Check(dim.ptr()) && !PyBool_Check(dim.ptr()), name,
                    "(): dim must be an int, but got ", std::string(Py_TYPE(dim.ptr())->tp_name));
      ValuesIndices r = is_max ? max(t, py::cast<int64_t>(dim), keepdim)
                               : min(t, py::cast<int64_t>(dim), keepdim);
      return result_type(py::cast(r.values), py::cast(r.indices));
    };
  };
  def_both(m, cls, "max", extreme(true, max_type), py::arg("dim") = py::none(),
           py::arg("keepdim") = false);
  def_both(m, cls, "min", extreme(false, min_type), py::arg("dim") = py::none(),
           py::arg("keepdim") = false);

  auto arg_fn = [](bool is_max) {
    return [is_max](const Tensor& t, py::handle dim, bool keepdim) {
      std::optional<int64_t> d;
      if (!dim.is_none()) d = py::cast<int64_t>(dim);
      return is_max ? argmax(t, d, keepdim) : argmin(t, d, keepdim);
    };
  };
  def_both(m, cls, "argmax", arg_fn(true), py::arg("dim") = py::none(),
           py::arg("keepdim") = false);
  def_both(m, cls, "argmin", arg_fn(false), py::arg("dim") = py::none(),
           py::arg("keepdim") = false);

  def_both(m, cls, "var", [](const Tensor& t, py::handle dim, py::handle unbiased, bool keepdim,
                             py::handle correction) {
    VarArgs a = var_args(dim, unbiased, correction, "var");
    return var(t, a.dims, a.correction, keepdim);
  }, py::arg("dim") = py::none(), py::arg("unbiased") = py::none(), py::arg("keepdim") = false,
     py::kw_only(), py::arg("correction") = py::none());
  def_both(m, cls, "std", [](const Tensor& t, py::handle dim, py::handle unbiased, bool keepdim,
                             py::handle correction) {
    VarArgs a = var_args(dim, unbiased, correction, "std");
    return std(t, a.dims, a.correction, keepdim);
  }, py::arg("dim") = py::none(), py::arg("unbiased") = py::none(), py::arg("keepdim") = false,
     py::kw_only(), py::arg("correction") = py::none());
  m.def("var_mean", [](const Tensor& t, py::handle dim, py::handle unbiased, bool keepdim,
                       py::handle correction) {
    VarArgs a = var_args(dim, unbiased, correction, "var_mean");
    auto r = var_mean(t, a.dims, a.correction, keepdim);
    return py::make_tuple(r.first, r.second);
  }, py::arg("input"), py::arg("dim") = py::none(), py::arg("unbiased") = py::none(),
     py::arg("keepdim") = false, py::kw_only(), py::arg("correction") = py::none());
  m.def("std_mean", [](const Tensor& t, py::handle dim, py::handle unbiased, bool keepdim,
                       py::handle correction) {
    VarArgs a = var_args(dim, unbiased, correction, "std_mean");
    auto r = std_mean(t, a.dims, a.correction, keepdim);
    return py::make_tuple(r.first, r.second);
  }, py::arg("input"), py::arg("dim") = py::none(), py::arg("unbiased") = py::none(),
     py::arg("keepdim") = false, py::kw_only(), py::arg("correction") = py::none());

  def_both(m, cls, "logsumexp", [](const Tensor& t, py::handle dim, bool keepdim) {
    return logsumexp(t, to_dims(dim, "logsumexp"), keepdim);
  }, py::arg("dim"), py::arg("keepdim") = false);
  def_both(m, cls, "norm", [](const Tensor& t, py::handle p, py::handle dim, bool keepdim,
                              py::handle dtype) {
    return norm(t, norm_order(p), to_dims(dim, "norm"), keepdim, opt_dtype(dtype));
  }, py::arg("p") = "fro", py::arg("dim") = py::none(), py::arg("keepdim") = false,
     py::arg("dtype") = py::none());

  def_both(m, cls, "cumsum", [](const Tensor& t, int64_t dim, py::handle dtype) {
    return cumsum(t, dim, opt_dtype(dtype));
  }, py::arg("dim"), py::kw_only(), py::arg("dtype") = py::none());
  def_both(m, cls, "cumprod", [](const Tensor& t, int64_t dim, py::handle dtype) {
    return cumprod(t, dim, opt_dtype(dtype));
  }, py::arg("dim"), py::kw_only(), py::arg("dtype") = py::none());
}

}  // namespace ranvier::python
