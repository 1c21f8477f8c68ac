// NumPy interop: Tensor.numpy() (zero-copy), from_numpy (zero-copy), __array__.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "ops/copy.h"
#include "python/convert.h"

namespace ranvier::python {

namespace {

py::dtype numpy_dtype(DType d) {
  switch (d) {
    case DType::Float32: return py::dtype("float32");
    case DType::Float64: return py::dtype("float64");
    case DType::Float16: return py::dtype("float16");
    case DType::Int64: return py::dtype("int64");
    case DType::Int32: return py::dtype("int32");
    case DType::UInt8: return py::dtype("uint8");
    case DType::Bool: return py::dtype("bool");
    default:
      throw_error(ErrorKind::Type, str_cat("Got unsupported ScalarType ", dtype_short_name(d),
                                           ": NumPy has no ", dtype_name(d), " dtype"));
  }
}

DType from_numpy_dtype(const py::dtype& dt) {
  char kind = dt.kind();
  size_t size = dt.itemsize();
  if (kind == 'f' && size == 4) return DType::Float32;
  if (kind == 'f' && size == 8) return DType::Float64;
  if (kind == 'f' && size == 2) return DType::Float16;
  if (kind == 'i' && size == 8) return DType::Int64;
  if (kind == 'i' && size == 4) return DType::Int32;
  if (kind == 'u' && size == 1) return DType::UInt8;
  if (kind == 'b') return DType::Bool;
  throw_error(ErrorKind::Type,
              str_cat("can't convert np.ndarray of type numpy.", std::string(py::str(dt)),
                      ". The only supported types are: float64, float32, float16, int64, int32, "
                      "uint8, and bool."));
}

void release_pyobject(void*, void* ctx) {
  if (!Py_IsInitialized()) return;
  py::gil_scoped_acquire gil;
  Py_DECREF(reinterpret_cast<PyObject*>(ctx));
}

}  // namespace

py::array tensor_to_numpy(py::handle self) {
  const Tensor& t = py::cast<const Tensor&>(self);
  RV_CHECK_TYPE(t.device().is_cpu(), "can't convert ", t.device().str(),
                " device type tensor to numpy. Use Tensor.cpu() to copy the tensor to host "
                "memory first.");
  RV_CHECK(!t.requires_grad(),
           "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.");
  py::dtype dt = numpy_dtype(t.dtype());
  std::vector<py::ssize_t> shape(t.sizes().begin(), t.sizes().end());
  std::vector<py::ssize_t> strides;
  for (int64_t s : t.strides()) strides.push_back(s * int64_t(t.element_size()));
  return py::array(dt, shape, strides, t.data_ptr(), self);
}

Tensor tensor_from_numpy(py::handle obj) {
  RV_CHECK_KIND(ErrorKind::Type, py::isinstance<py::array>(obj),
                "from_numpy: expected np.ndarray (got ",
                std::string(Py_TYPE(obj.ptr())->tp_name), ")");
  py::array a = py::reinterpret_borrow<py::array>(obj);
  DType d = from_numpy_dtype(a.dtype());
  RV_CHECK_VALUE(a.ndim() <= kMaxDims, "from_numpy: at most ", kMaxDims, " dimensions supported");
  Shape sizes, strides;
  size_t isz = element_size(d);
  for (py::ssize_t i = 0; i < a.ndim(); ++i) {
    sizes.push_back(a.shape(i));
    py::ssize_t st = a.strides(i);
    RV_CHECK_VALUE(st >= 0, "from_numpy: at least one stride in the given numpy array is "
                            "negative, and tensors with negative strides are not currently "
                            "supported. (You can probably work around this by making a copy of "
                            "your array with array.copy().)");
    RV_CHECK_VALUE(st % py::ssize_t(isz) == 0, "from_numpy: given numpy array strides not a "
                                               "multiple of the element byte size. Copy the "
                                               "numpy array to reallocate the memory.");
    strides.push_back(st / py::ssize_t(isz));
  }
  int64_t extent = 1;
  for (size_t i = 0; i < sizes.size(); ++i) extent += (sizes[i] - 1) * strides[i];
  if (shape_numel(sizes) == 0) extent = 0;
  PyObject* owner = a.ptr();
  Py_INCREF(owner);
  auto storage = Storage::wrap(const_cast<void*>(a.data()), size_t(extent) * isz, Device(),
                               &release_pyobject, owner);
  return Tensor(std::make_shared<TensorImpl>(std::move(storage), sizes, strides, 0, d));
}

void bind_numpy(py::module_& m, py::class_<Tensor>& cls) {
  cls.def("_numpy", [](py::handle self) { return tensor_to_numpy(self); });
  m.def("from_numpy", &tensor_from_numpy);
}

}  // namespace ranvier::python
