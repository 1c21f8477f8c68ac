// Autocast (automatic mixed precision) for the Python API: the per-thread state behind
// ranvier.autocast and the call hooks that apply a cast policy to an op's tensor arguments.
// Note [Autocast hooks]: the C++ ops know nothing of autocast. A hook wraps a user-facing
// callable (a ranvier.<op> function, a Tensor method, a nn.functional function); when autocast is
// on for the device of the call's first tensor argument, and the call comes from outside
// ranvier's own implementation modules (so that ops used inside another op's composition are
// not re-cast), the hook casts the floating tensor arguments as the op's policy says and calls
// the wrapped callable. With autocast off a hook costs one thread-local read.
#pragma once
#include <pybind11/pybind11.h>

#include "core/device.h"
#include "core/dtype.h"

namespace ranvier::python::autocast {

namespace py = pybind11;

// How an op treats its floating arguments inside an autocast region.
enum class Policy : int8_t {
  None = 0,     // untouched
  Lower = 1,    // cast to the region's dtype (float16 / bfloat16); float64 stays float64
  Fp32 = 2,     // cast float16 / bfloat16 to float32
  Promote = 3,  // cast to the widest floating dtype among the arguments
  Banned = 4,   // raises: the op is unsafe under autocast on this device
  Fp32Dtype = 5,  // called with dtype=float32 (unless it names a dtype or its first tensor
                  // is float64), arguments untouched: the op computes in float32 from 16-bit
                  // inputs itself (PyTorch's fp32_set_opt_dtype)
};

bool is_enabled(DeviceType d);
DType get_dtype(DeviceType d);

// Registers the state functions (_C._autocast_*) and the hook factory (_C._autocast_hook).
void bind(py::module_& m);

}  // namespace ranvier::python::autocast
