// Conversions between Python objects and core types, shared by all bind_*.cpp files.
#pragma once
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <vector>

#include "core/scalar.h"
#include "core/tensor.h"

namespace ranvier::python {

namespace py = pybind11;

bool is_tensor(py::handle h);
// Whether h is a Python/NumPy number (bool, int, float, 0-d NumPy array).
bool is_number(py::handle h);
// A Python number as a Scalar; TypeError naming op otherwise (NaN is allowed; None is not).
Scalar to_scalar(py::handle h, const char* op);
// h if it is a Tensor, else a Python number wrapped for promotion against ref.
Tensor tensor_or_scalar(py::handle h, const Tensor& ref, const char* op);
// A size argument: an int, or a sequence of ints (tuple, list, ranvier.Size).
Shape to_shape(py::handle h, const char* op);
// Sizes given as *args: f(2, 3) or f((2, 3)) or f([2, 3]).
Shape shape_from_args(const py::args& args, const char* op);
// A dim argument: None -> {}, int -> {d}, sequence -> dims.
std::vector<int64_t> to_dims(py::handle h, const char* op);
// dtype argument (a ranvier dtype); None gives `fallback`.
DType to_dtype_arg(py::handle h, DType fallback);
// device argument: None, a string, or a ranvier.device.
Device to_device_arg(py::handle h, Device fallback = Device());
// A ranvier.Size (tuple subclass) for a shape.
py::object make_size(const Shape& s);
void set_size_type(py::object cls);

}  // namespace ranvier::python
