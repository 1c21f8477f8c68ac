// The safetensors reader/writer for Python: _C._st_save / _st_save_bytes / _st_load /
// _st_load_bytes. Object structure (dicts, lists, ...) is handled in ranvier/serialization.py;
// these move only (name, tensor) lists and the str->str metadata. File I/O runs without the GIL.
// IoError becomes the matching OSError subclass (FileNotFoundError, PermissionError, ...).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "python/convert.h"
#include "serialize/safetensors.h"

namespace ranvier::python {

namespace {

py::tuple to_python(serialize::SafetensorsData&& data) {
  py::list tensors;
  for (auto& nt : data.tensors) tensors.append(py::make_tuple(nt.first, py::cast(nt.second)));
  py::dict meta;
  for (const auto& kv : data.metadata) meta[py::str(kv.first)] = py::str(kv.second);
  return py::make_tuple(tensors, meta);
}

}  // namespace

void bind_serialize(py::module_& m) {
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const serialize::IoError& e) {
      py::object exc = py::reinterpret_borrow<py::object>(PyExc_OSError)(
          e.error_number(), std::string(e.what()), e.path());
      PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(exc.ptr())), exc.ptr());
    }
  });

  m.def("_st_save", [](const std::string& path, const serialize::NamedTensors& tensors,
                       const serialize::Metadata& metadata) {
    py::gil_scoped_release nogil;
    serialize::save_safetensors(path, tensors, metadata);
  }, py::arg("path"), py::arg("tensors"), py::arg("metadata"));

  m.def("_st_save_bytes", [](const serialize::NamedTensors& tensors,
                             const serialize::Metadata& metadata) {
    std::string out;
    {
      py::gil_scoped_release nogil;
      out = serialize::save_safetensors_bytes(tensors, metadata);
    }
    return py::bytes(out);
  }, py::arg("tensors"), py::arg("metadata"));

  m.def("_st_load", [](const std::string& path) {
    serialize::SafetensorsData data;
    {
      py::gil_scoped_release nogil;
      data = serialize::load_safetensors(path);
    }
    return to_python(std::move(data));
  }, py::arg("path"));

  m.def("_st_load_bytes", [](py::buffer buf, const std::string& source) {
    py::buffer_info info = buf.request();
    RV_CHECK_TYPE(info.ndim <= 1 && (info.ndim == 0 || info.strides[0] == info.itemsize),
                  "_st_load_bytes: expected a contiguous bytes-like object");
    size_t size = size_t(info.size) * size_t(info.itemsize);
    serialize::SafetensorsData data;
    {
      py::gil_scoped_release nogil;
      data = serialize::load_safetensors_bytes(info.ptr, size, source);
    }
    return to_python(std::move(data));
  }, py::arg("data"), py::arg("source") = "<bytes>");
}

}  // namespace ranvier::python
