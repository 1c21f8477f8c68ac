// Factories: empty/zeros/ones/full/arange/linspace/eye, their *_like forms, and tensor(data)
// from nested Python sequences and numbers.
#include <pybind11/pybind11.h>

#include <cmath>

#include "autograd/grad_mode.h"
#include "ops/copy.h"
#include "ops/factory.h"
#include "python/convert.h"

namespace ranvier::python {

namespace {

// Scans nested sequences: shape, and the kind of the values found (0 bool, 1 int, 2 float).
void scan(py::handle h, size_t depth, Shape& shape, int& kind, const char* op) {
  if (is_tensor(h)) {
    const Tensor& t = py::cast<const Tensor&>(h);
    RV_CHECK_VALUE(t.numel() == 1 && depth == shape.size(), op,
                   ": only one-element tensors can be nested in a list of numbers");
    kind = std::max(kind, dtype_category(t.dtype()));
    return;
  }
  if (is_number(h)) {
    RV_CHECK_VALUE(depth == shape.size(), op, ": expected a sequence at depth ", depth,
                   " but found a number (ragged nested sequence)");
    Scalar s = to_scalar(h, op);
    kind = std::max(kind, s.is_bool() ? 0 : (s.is_integral() ? 1 : 2));
    return;
  }
  RV_CHECK_KIND(ErrorKind::Type,
                py::isinstance<py::sequence>(h) && !py::isinstance<py::str>(h) &&
                    !py::isinstance<py::bytes>(h),
                op, ": could not convert an object of type ",
                std::string(Py_TYPE(h.ptr())->tp_name),
                " to a number");
  py::sequence seq = py::reinterpret_borrow<py::sequence>(h);
  int64_t n = int64_t(py::len(seq));
  if (depth == shape.size()) {
    RV_CHECK_VALUE(depth < size_t(kMaxDims), op, ": too many dimensions");
    shape.push_back(n);
  } else {
    RV_CHECK_VALUE(depth < shape.size() && shape[depth] == n, op,
                   ": expected sequence of length ", depth < shape.size() ? shape[depth] : 0,
                   " at dim ", depth, " (got ", n, ")");
  }
  for (int64_t i = 0; i < n; ++i) scan(seq[i], depth + 1, shape, kind, op);
}

template <typename T>
void fill_values(py::handle h, T*& out) {
  if (is_tensor(h)) {
    Tensor t = to_dtype(to_device(detach(py::cast<const Tensor&>(h)), Device()),
                        CppToDType<T>::value);
    *out++ = *contiguous_clone(t).data<T>();
    return;
  }
  if (is_number(h)) {
    Scalar s = to_scalar(h, "tensor");
    *out++ = s.is_floating() ? T(s.to_double()) : T(s.to_int());
    return;
  }
  for (py::handle e : h) fill_values<T>(e, out);
}

}  // namespace

// tensor(data): nested lists/tuples of numbers (or one-element tensors), or a single number.
Tensor tensor_from_data(py::handle data, py::handle dtype_h, py::handle device_h) {
  Shape shape;
  int kind = 0;
  scan(data, 0, shape, kind, "tensor");
  DType inferred = kind == 2 ? DType::Float32 : (kind == 1 ? DType::Int64 : DType::Bool);
  if (shape_numel(shape) == 0 && !shape.empty()) inferred = DType::Float32;
  DType dtype = to_dtype_arg(dtype_h, inferred);
  Device device = to_device_arg(device_h);
  // Gather as double (floats) or int64 (ints, bools), then convert once.
  Tensor host;
  if (kind == 2) {
    host = empty(shape, DType::Float64);
    double* p = host.data<double>();
    fill_values<double>(data, p);
  } else {
    host = empty(shape, DType::Int64);
    int64_t* p = host.data<int64_t>();
    fill_values<int64_t>(data, p);
  }
  Tensor out = empty(shape, dtype, device);
  autograd::NoGradGuard ng;
  copy_(out, host);
  return out;
}

void bind_factory(py::module_& m, py::class_<Tensor>& cls) {
  m.def("_tensor", &tensor_from_data, py::arg("data"), py::arg("dtype") = py::none(),
        py::arg("device") = py::none());
  m.def("_empty", [](const Shape& s, py::handle dt, py::handle dev) {
    return empty(s, to_dtype_arg(dt, DType::Float32), to_device_arg(dev));
  });
  m.def("_full", [](const Shape& s, py::handle value, py::handle dt, py::handle dev) {
    Scalar v = to_scalar(value, "full");
    DType d = to_dtype_arg(dt, v.default_dtype());
    return full(s, v, d, to_device_arg(dev));
  });
  m.def("_arange", [](py::handle start, py::handle end, py::handle step, py::handle dt,
                      py::handle dev) {
    Scalar a = to_scalar(start, "arange"), b = to_scalar(end, "arange"),
           c = to_scalar(step, "arange");
    bool fl = a.is_floating() || b.is_floating() || c.is_floating();
    DType d = to_dtype_arg(dt, fl ? DType::Float32 : DType::Int64);
    return arange(a, b, c, d, to_device_arg(dev));
  });
  m.def("_linspace", [](double start, double end, int64_t steps, py::handle dt, py::handle dev) {
    return linspace(start, end, steps, to_dtype_arg(dt, DType::Float32), to_device_arg(dev));
  });
  m.def("_eye", [](int64_t n, py::handle mh, py::handle dt, py::handle dev) {
    int64_t mm = mh.is_none() ? n : py::cast<int64_t>(mh);
    return eye(n, mm, to_dtype_arg(dt, DType::Float32), to_device_arg(dev));
  });
  (void)cls;
}

}  // namespace ranvier::python
