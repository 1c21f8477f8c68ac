// Pooling as fused ops over [N, C, H, W] (the 1-D forms and unbatched inputs are handled in
// python/ranvier/nn/_functional_pool.py): max_pool2d and adaptive_max_pool2d return the values
// and PyTorch's flat per-plane int64 argmax indices (y * W + x); avg_pool2d and
// adaptive_avg_pool2d return the averages. Every window is a separable row x column window
// (PoolWindows). Backward: hand-written kernels (the max scatters each gradient to its saved
// argmax, the average spreads it over its window); each backward is itself a recorded op whose
// backward is a gather / the forward average, so gradients of any order work.
#pragma once
#include <memory>
#include <tuple>
#include <vector>

#include "core/dispatch.h"
#include "core/tensor.h"
#include "ops/conv.h"

namespace ranvier {

// (values, indices) [N, C, oh, ow] of the maxima of input [N, C, H, W] (NaN wins, like PyTorch).
std::tuple<Tensor, Tensor> max_pool2d(const Tensor& input, Pair kernel, Pair stride,
                                      Pair padding, Pair dilation, bool ceil_mode);
// (values, indices) over PyTorch's adaptive windows.
std::tuple<Tensor, Tensor> adaptive_max_pool2d(const Tensor& input, Pair output_size);
// Window averages; divisor_override 0 means none.
Tensor avg_pool2d(const Tensor& input, Pair kernel, Pair stride, Pair padding, bool ceil_mode,
                  bool count_include_pad, int64_t divisor_override);
Tensor adaptive_avg_pool2d(const Tensor& input, Pair output_size);

// Window of output row i: rows start[i] + t * step for t < count, clipped to [0, size).
// div[i]: the averaging divisor of that row (average pooling only).
struct PoolWindows {
  std::vector<int64_t> start, count;
  std::vector<double> div;
  int64_t step = 1;
};
struct PoolSpec {
  DType dtype = DType::Float32;
  int64_t planes = 0, h = 0, w = 0;
  const PoolWindows* rows = nullptr;
  const PoolWindows* cols = nullptr;
  double divisor = 0.0;  // average: a constant divisor when nonzero, else rows.div * cols.div
};
// in [planes, h, w] contiguous -> out (may be null) and idx [planes, rows, cols].
using MaxPoolKernel = void (*)(const PoolSpec& s, const char* in, char* out, int64_t* idx);
// grad_in [planes, h, w] = the sum of grad_out at each argmax.
using MaxPoolBackwardKernel = void (*)(const PoolSpec& s, const char* grad_out,
                                       const int64_t* idx, char* grad_in);
// out [planes, rows, cols] = window sums / divisor.
using AvgPoolKernel = void (*)(const PoolSpec& s, const char* in, char* out);
// grad_in [planes, h, w]: each grad_out / divisor added over its window.
using AvgPoolBackwardKernel = void (*)(const PoolSpec& s, const char* grad_out, char* grad_in);

extern KernelSlot<MaxPoolKernel> max_pool_kernel;
extern KernelSlot<MaxPoolBackwardKernel> max_pool_backward_kernel;
extern KernelSlot<AvgPoolKernel> avg_pool_kernel;
extern KernelSlot<AvgPoolBackwardKernel> avg_pool_backward_kernel;

}  // namespace ranvier
