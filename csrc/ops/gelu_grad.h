// gelu's fused backward kernel slot (ops/activation.cpp uses it unless a graph of the
// gradient is wanted; kernel in kernels/cpu/activation.cpp): out = grad * gelu'(x) over n
// contiguous elements of dtype float32 or float64.
#pragma once
#include <cstdint>

#include "core/dispatch.h"
#include "core/dtype.h"

namespace ranvier {

struct GeluGradSpec {
  DType dtype = DType::Float32;
  bool tanh_form = false;
  int64_t n = 0;
  const void* grad = nullptr;
  const void* x = nullptr;
  void* out = nullptr;
};
using GeluGradKernel = void (*)(const GeluGradSpec& s);
extern KernelSlot<GeluGradKernel> gelu_backward_kernel;

}  // namespace ranvier
