// Pooling windows that need their own kernel: the argmax of each max-pooling window (regular
// max_pool2d and adaptive_max_pool2d). The op returns PyTorch's flat-per-plane int64 indices
// (y * W + x); the pooled values are then gather()ed from the input along the flattened plane,
// so the backward (scatter_add) and the double backward come from the gather op.
// Average pooling, unpooling and the 1-D forms are composed in python/ranvier/nn/_functional_conv.py.
#pragma once
#include <vector>

#include "core/dispatch.h"
#include "core/tensor.h"
#include "ops/conv.h"

namespace ranvier {

// Indices [N, C, oh, ow] of the maxima of input [N, C, H, W] (NaN wins, like PyTorch).
Tensor max_pool2d_indices(const Tensor& input, Pair kernel, Pair stride, Pair padding,
                          Pair dilation, bool ceil_mode);
// Indices [N, C, oh, ow] of the maxima over PyTorch's adaptive windows.
Tensor adaptive_max_pool2d_indices(const Tensor& input, Pair output_size);

// Window of output row i: rows start[i] + t * step for t < count, clipped to [0, size).
struct PoolWindows {
  std::vector<int64_t> start, count;
  int64_t step = 1;
};
struct MaxPoolSpec {
  DType dtype = DType::Float32;
  int64_t planes = 0, h = 0, w = 0;
  const PoolWindows* rows = nullptr;
  const PoolWindows* cols = nullptr;
};
// in [planes, h, w] contiguous -> idx [planes, rows, cols].
using MaxPoolIndicesKernel = void (*)(const MaxPoolSpec& s, const char* in, int64_t* idx);
extern KernelSlot<MaxPoolIndicesKernel> max_pool_indices_kernel;

}  // namespace ranvier
