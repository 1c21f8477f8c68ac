// Device moves: Tensor._to_device(device), the core of Tensor.to(device) / .cuda() / .cpu().
// The CUDA runtime functions themselves are in libranvier_cuda (called from
// ranvier/cuda/__init__.py), not here: the extension never links NVIDIA's libraries.
#include <pybind11/pybind11.h>

#include "ops/copy.h"
#include "python/convert.h"

namespace ranvier::python {
namespace py = pybind11;

void bind_cuda(py::module_& m, py::class_<Tensor>& cls) {
  cls.def("_to_device", [](const Tensor& t, py::handle device) {
    return to_device(t, to_device_arg(device));
  }, py::arg("device"));
}

}  // namespace ranvier::python
