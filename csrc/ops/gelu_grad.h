// gelu's fused kernel slot (kernels/cpu/activation.cpp, kernels/cuda/gelu.cu): forward
// out = gelu(x) (on the CPU optionally with deriv = gelu'(x)) and backward
// out = grad * gelu'(x) (used unless a graph of the gradient is wanted), over n contiguous
// float32 / float64 elements; float16 / bfloat16 too on devices that convert 16-bit operands
// (Note [16-bit operands] in ops/iter.h).
#pragma once
#include <cstdint>

#include "core/dispatch.h"
#include "core/dtype.h"

namespace ranvier {

struct GeluGradSpec {
  DType dtype = DType::Float32;
  bool tanh_form = false;
  bool forward = false;  // true: out = gelu(x) (grad unused)
  int64_t n = 0;
  const void* grad = nullptr;
  const void* x = nullptr;
  void* out = nullptr;
  // forward only: where to write gelu'(x) as well, when not null (the CPU kernel; the autograd
  // record then keeps it, so that the backward is one multiply: Note [GELU's saved derivative])
  void* deriv = nullptr;
};
using GeluGradKernel = void (*)(const GeluGradSpec& s);
extern KernelSlot<GeluGradKernel> gelu_backward_kernel;

}  // namespace ranvier
