// DLPack exchange: Tensor.__dlpack__ (legacy and versioned capsules) and from_dlpack.
// The structs below follow the DLPack specification (dlpack.h, v1.0 ABI).
#include <pybind11/pybind11.h>

#include <cstring>

#include "ops/copy.h"
#include "python/convert.h"

namespace ranvier::python {

namespace {

struct DLDevice { int32_t device_type; int32_t device_id; };
struct DLDataType { uint8_t code; uint8_t bits; uint16_t lanes; };
struct DLTensor {
  void* data;
  DLDevice device;
  int32_t ndim;
  DLDataType dtype;
  int64_t* shape;
  int64_t* strides;
  uint64_t byte_offset;
};
struct DLManagedTensor {
  DLTensor dl_tensor;
  void* manager_ctx;
  void (*deleter)(DLManagedTensor*);
};
struct DLPackVersion { uint32_t major; uint32_t minor; };
struct DLManagedTensorVersioned {
  DLPackVersion version;
  void* manager_ctx;
  void (*deleter)(DLManagedTensorVersioned*);
  uint64_t flags;
  DLTensor dl_tensor;
};
enum : uint8_t { kDLInt = 0, kDLUInt = 1, kDLFloat = 2, kDLBfloat = 4, kDLBool = 6 };
enum : int32_t { kDLCPU = 1, kDLCUDA = 2 };

DLDataType to_dl(DType d) {
  switch (d) {
    case DType::Float32: return {kDLFloat, 32, 1};
    case DType::Float64: return {kDLFloat, 64, 1};
    case DType::Float16: return {kDLFloat, 16, 1};
    case DType::BFloat16: return {kDLBfloat, 16, 1};
    case DType::Int64: return {kDLInt, 64, 1};
    case DType::Int32: return {kDLInt, 32, 1};
    case DType::UInt8: return {kDLUInt, 8, 1};
    case DType::Bool: return {kDLBool, 8, 1};
  }
  return {kDLFloat, 32, 1};
}

DType from_dl(DLDataType t) {
  RV_CHECK_TYPE(t.lanes == 1, "from_dlpack: vector dtypes (lanes=", t.lanes, ") are not supported");
  if (t.code == kDLFloat && t.bits == 32) return DType::Float32;
  if (t.code == kDLFloat && t.bits == 64) return DType::Float64;
  if (t.code == kDLFloat && t.bits == 16) return DType::Float16;
  if (t.code == kDLBfloat && t.bits == 16) return DType::BFloat16;
  if (t.code == kDLInt && t.bits == 64) return DType::Int64;
  if (t.code == kDLInt && t.bits == 32) return DType::Int32;
  if (t.code == kDLUInt && t.bits == 8) return DType::UInt8;
  if (t.code == kDLBool && t.bits == 8) return DType::Bool;
  throw_error(ErrorKind::Type, str_cat("from_dlpack: unsupported DLPack dtype (code ",
                                       int(t.code), ", bits ", int(t.bits), ")"));
}

// Owns the exported tensor and the shape/stride arrays the DLTensor points at.
struct ExportCtx {
  Tensor tensor;
  std::vector<int64_t> shape, strides;
};

template <typename Managed>
void fill_dltensor(Managed* m, ExportCtx* ctx) {
  const Tensor& t = ctx->tensor;
  DLTensor& d = m->dl_tensor;
  d.data = t.data_ptr();
  d.device = {t.device().is_cpu() ? kDLCPU : kDLCUDA, t.device().is_cpu() ? 0 : t.device().index};
  d.ndim = int32_t(t.dim());
  d.dtype = to_dl(t.dtype());
  d.shape = ctx->shape.data();
  d.strides = ctx->strides.data();
  d.byte_offset = 0;
  m->manager_ctx = ctx;
}

void delete_legacy(DLManagedTensor* m) {
  delete static_cast<ExportCtx*>(m->manager_ctx);
  delete m;
}
void delete_versioned(DLManagedTensorVersioned* m) {
  delete static_cast<ExportCtx*>(m->manager_ctx);
  delete m;
}

py::capsule to_dlpack(const Tensor& t, bool versioned) {
  RV_CHECK(!t.requires_grad(), "Can't export tensors that require gradient, use tensor.detach()");
  auto* ctx = new ExportCtx{t, t.sizes(), t.strides()};
  if (versioned) {
    auto* m = new DLManagedTensorVersioned();
    m->version = {1, 0};
    m->deleter = &delete_versioned;
    m->flags = 0;
    fill_dltensor(m, ctx);
    return py::capsule(m, "dltensor_versioned", [](PyObject* cap) {
      if (PyCapsule_IsValid(cap, "dltensor_versioned")) {
        auto* mm = static_cast<DLManagedTensorVersioned*>(
            PyCapsule_GetPointer(cap, "dltensor_versioned"));
        if (mm && mm->deleter) mm->deleter(mm);
      }
    });
  }
  auto* m = new DLManagedTensor();
  m->deleter = &delete_legacy;
  fill_dltensor(m, ctx);
  return py::capsule(m, "dltensor", [](PyObject* cap) {
    if (PyCapsule_IsValid(cap, "dltensor")) {
      auto* mm = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(cap, "dltensor"));
      if (mm && mm->deleter) mm->deleter(mm);
    }
  });
}

template <typename Managed>
Tensor import_managed(Managed* m, void (*release)(void*, void*)) {
  const DLTensor& d = m->dl_tensor;
  RV_CHECK_NOT_IMPLEMENTED(d.device.device_type == kDLCPU, "from_dlpack: only CPU tensors can "
                           "be imported in this build (device type ", d.device.device_type, ")");
  DType dt = from_dl(d.dtype);
  Shape sizes(d.shape, d.shape + d.ndim);
  Shape strides = d.strides ? Shape(d.strides, d.strides + d.ndim) : contiguous_strides(sizes);
  int64_t extent = 1;
  for (int i = 0; i < d.ndim; ++i) {
    RV_CHECK_VALUE(strides[i] >= 0, "from_dlpack: negative strides are not supported");
    extent += (sizes[i] - 1) * strides[i];
  }
  if (shape_numel(sizes) == 0) extent = 0;
  void* data = static_cast<char*>(d.data) + d.byte_offset;
  auto storage = Storage::wrap(data, size_t(extent) * element_size(dt), Device(), release, m);
  return Tensor(std::make_shared<TensorImpl>(std::move(storage), sizes, strides, 0, dt));
}

Tensor from_dlpack(py::object obj) {
  py::object cap = obj;
  if (!PyCapsule_CheckExact(obj.ptr())) {
    RV_CHECK_TYPE(py::hasattr(obj, "__dlpack__"), "from_dlpack: expected an object with "
                  "__dlpack__ or a DLPack capsule, got ", std::string(Py_TYPE(obj.ptr())->tp_name));
    try {
      cap = obj.attr("__dlpack__")(py::arg("max_version") = py::make_tuple(1, 0));
    } catch (py::error_already_set& e) {
      if (!e.matches(PyExc_TypeError)) throw;
      cap = obj.attr("__dlpack__")();
    }
  }
  PyObject* c = cap.ptr();
  if (PyCapsule_IsValid(c, "dltensor_versioned")) {
    auto* m = static_cast<DLManagedTensorVersioned*>(PyCapsule_GetPointer(c, "dltensor_versioned"));
    RV_CHECK(m->version.major == 1, "from_dlpack: unsupported DLPack major version ",
             m->version.major);
    Tensor t = import_managed(m, [](void*, void* ctx) {
      auto* mm = static_cast<DLManagedTensorVersioned*>(ctx);
      if (mm->deleter) mm->deleter(mm);
    });
    PyCapsule_SetName(c, "used_dltensor_versioned");
    return t;
  }
  RV_CHECK_VALUE(PyCapsule_IsValid(c, "dltensor"), "from_dlpack: the capsule is not an unused "
                 "DLPack tensor (it may have been consumed already)");
  auto* m = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(c, "dltensor"));
  Tensor t = import_managed(m, [](void*, void* ctx) {
    auto* mm = static_cast<DLManagedTensor*>(ctx);
    if (mm->deleter) mm->deleter(mm);
  });
  PyCapsule_SetName(c, "used_dltensor");
  return t;
}

}  // namespace

void bind_dlpack(py::module_& m, py::class_<Tensor>& cls) {
  cls.def("__dlpack__", [](const Tensor& t, py::handle stream, py::handle max_version,
                           py::handle dl_device, py::handle copy) {
    bool versioned = false;
    if (!max_version.is_none()) versioned = py::cast<int>(max_version[py::int_(0)]) >= 1;
    Tensor src = t;
    if (!copy.is_none() && py::cast<bool>(copy)) src = contiguous_clone(t);
    (void)stream;
    (void)dl_device;
    return to_dlpack(src, versioned);
  }, py::kw_only(), py::arg("stream") = py::none(), py::arg("max_version") = py::none(),
     py::arg("dl_device") = py::none(), py::arg("copy") = py::none());
  m.def("from_dlpack", &from_dlpack);
}

}  // namespace ranvier::python
