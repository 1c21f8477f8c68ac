// Python <-> core conversions (see convert.h).
#include "python/convert.h"

#include <cmath>

#include "ops/binary.h"

namespace ranvier::python {

namespace {
py::object& size_type() {
  static py::object* cls = new py::object();  // leaked on purpose: lives until exit
  return *cls;
}
}  // namespace

void set_size_type(py::object cls) { size_type() = std::move(cls); }

py::object make_size(const Shape& s) {
  py::tuple t(s.size());
  for (size_t i = 0; i < s.size(); ++i) t[i] = py::int_(s[i]);
  if (size_type()) return size_type()(t);
  return std::move(t);
}

bool is_tensor(py::handle h) { return py::isinstance<Tensor>(h); }

bool is_number(py::handle h) {
  if (PyBool_Check(h.ptr()) || PyLong_Check(h.ptr()) || PyFloat_Check(h.ptr())) return true;
  // NumPy scalars and 0-d arrays expose __index__ or __float__
  py::handle tp = reinterpret_cast<PyObject*>(Py_TYPE(h.ptr()));
  std::string mod = py::str(tp.attr("__module__"));
  if (mod == "numpy") {
    if (py::hasattr(h, "ndim") && py::cast<int>(h.attr("ndim")) == 0) {
      std::string kind = py::str(h.attr("dtype").attr("kind"));
      return kind == "b" || kind == "i" || kind == "u" || kind == "f";
    }
  }
  return false;
}

Scalar to_scalar(py::handle h, const char* op) {
  PyObject* o = h.ptr();
  if (PyBool_Check(o)) return Scalar(o == Py_True);
  if (PyLong_Check(o)) {
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
    RV_CHECK(!overflow, op, ": value cannot be converted to type int64 without overflow");
    return Scalar(int64_t(v));
  }
  if (PyFloat_Check(o)) return Scalar(PyFloat_AS_DOUBLE(o));
  if (is_number(h)) {
    std::string kind = py::str(h.attr("dtype").attr("kind"));
    if (kind == "b") return Scalar(py::cast<bool>(h.attr("item")()));
    if (kind == "f") return Scalar(py::cast<double>(h.attr("item")()));
    return Scalar(py::cast<int64_t>(h.attr("item")()));
  }
  if (is_tensor(h)) {
    const Tensor& t = py::cast<const Tensor&>(h);
    RV_CHECK_VALUE(t.numel() == 1, op, ": expected a number but got a tensor of shape ",
                   shape_str(t.sizes()));
  }
  std::string tn = std::string(Py_TYPE(o)->tp_name);
  throw_error(ErrorKind::Type, str_cat(op, ": expected a number, but got ", tn));
}

Tensor tensor_or_scalar(py::handle h, const Tensor& ref, const char* op) {
  if (is_tensor(h)) return py::cast<Tensor>(h);
  return wrap_scalar(to_scalar(h, op), ref);
}

Shape to_shape(py::handle h, const char* op) {
  if (PyLong_Check(h.ptr()) && !PyBool_Check(h.ptr())) return Shape{py::cast<int64_t>(h)};
  RV_CHECK_KIND(ErrorKind::Type, py::isinstance<py::sequence>(h) && !py::isinstance<py::str>(h),
                op, ": size must be a tuple of ints, but got ",
                std::string(Py_TYPE(h.ptr())->tp_name));
  Shape s;
  for (py::handle e : h) {
    RV_CHECK_KIND(ErrorKind::Type,
                  (PyLong_Check(e.ptr()) && !PyBool_Check(e.ptr())) || py::hasattr(e, "__index__"),
                  op, ": size must be a tuple of ints, but found an element of type ",
                  std::string(Py_TYPE(e.ptr())->tp_name));
    s.push_back(py::cast<int64_t>(e.attr("__index__")()));
  }
  return s;
}

Shape shape_from_args(const py::args& args, const char* op) {
  if (args.size() == 1 && !PyLong_Check(args[0].ptr())) return to_shape(args[0], op);
  Shape s;
  for (py::handle e : args) {
    RV_CHECK_KIND(ErrorKind::Type, PyLong_Check(e.ptr()) && !PyBool_Check(e.ptr()), op,
                  ": size must be ints, but found an element of type ",
                  std::string(Py_TYPE(e.ptr())->tp_name));
    s.push_back(py::cast<int64_t>(e));
  }
  return s;
}

std::vector<int64_t> to_dims(py::handle h, const char* op) {
  if (h.is_none()) return {};
  if (PyLong_Check(h.ptr()) && !PyBool_Check(h.ptr())) return {py::cast<int64_t>(h)};
  return to_shape(h, op);
}

DType to_dtype_arg(py::handle h, DType fallback) {
  if (h.is_none()) return fallback;
  RV_CHECK_KIND(ErrorKind::Type, py::isinstance<DType>(h),
                "expected a ranvier dtype (e.g. ranvier.float32), but got ",
                std::string(py::str(py::repr(h))));
  return py::cast<DType>(h);
}

Device to_device_arg(py::handle h, Device fallback) {
  if (h.is_none()) return fallback;
  if (py::isinstance<py::str>(h)) return parse_device(py::cast<std::string>(h));
  if (py::isinstance<Device>(h)) return py::cast<Device>(h);
  if (PyLong_Check(h.ptr())) return Device(DeviceType::CUDA, py::cast<int>(h));
  throw_error(ErrorKind::Type, str_cat("expected a device (a string like 'cpu' or a "
                                       "ranvier.device), but got ",
                                       std::string(py::str(py::repr(h)))));
}

}  // namespace ranvier::python
