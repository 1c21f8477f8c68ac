// Device moves: Tensor._to_device(device), the core of Tensor.to(device) / .cuda() / .cpu();
// Tensor.pin_memory() / is_pinned() (core/pinned.h); _C._kernel_slots(): (name, has_cpu,
// has_cuda) for every kernel slot (core/dispatch.h).
// The CUDA runtime functions themselves are in libranvier_cuda (called from
// ranvier/cuda/__init__.py), not here: the extension never links NVIDIA's libraries.
#include <pybind11/pybind11.h>

#include "core/dispatch.h"
#include "core/pinned.h"
#include "ops/copy.h"
#include "python/convert.h"

namespace ranvier::python {
namespace py = pybind11;

void bind_cuda(py::module_& m, py::class_<Tensor>& cls) {
  cls.def("_to_device", [](const Tensor& t, py::handle device) {
    return to_device(t, to_device_arg(device));
  }, py::arg("device"));
  cls.def("pin_memory", [](const Tensor& t, py::handle) { return pin_memory(t); },
          py::arg("device") = py::none());
  cls.def("is_pinned", [](const Tensor& t, py::handle) { return is_pinned(t); },
          py::arg("device") = py::none());
  m.def("_kernel_slots", [] {
    ensure_kernels_registered();
    py::list out;
    for (const KernelSlotInfo& s : kernel_slots())
      out.append(py::make_tuple(s.name, s.has(s.slot, DeviceType::CPU),
                                s.has(s.slot, DeviceType::CUDA)));
    return out;
  });
}

}  // namespace ranvier::python
