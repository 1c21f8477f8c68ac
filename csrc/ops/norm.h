// Fused normalisation layers: batch_norm over [N, C, *] (training statistics with the biased
// variance, running-stat update with the unbiased one, or eval with running stats) and
// layer_norm over the trailing normalized_shape. Forward and backward are fused CPU kernels;
// the backward node's own backward (double backward) raises NotImplementedError.
#pragma once
#include <optional>

#include "core/dispatch.h"
#include "core/tensor.h"

namespace ranvier {

// weight / bias / running stats may be undefined tensors. With training and running stats
// given, running_mean/var are updated in place with momentum.
Tensor batch_norm(const Tensor& input, const Tensor& running_mean, const Tensor& running_var,
                  const Tensor& weight, const Tensor& bias, bool training, double momentum,
                  double eps);
Tensor layer_norm(const Tensor& input, const Shape& normalized_shape, const Tensor& weight,
                  const Tensor& bias, double eps);

// Contiguous x seen as [n, c, s] (batch norm: statistics per c over n and s) or [m, k]
// (layer norm: statistics per row m over k; n = m, c = k, s = 1).
struct NormSpec {
  DType dtype;
  int64_t n = 1, c = 1, s = 1;
  double eps = 1e-5;
  bool training = true;
  const void* x = nullptr;
  const void* weight = nullptr;  // per channel / per element, or null
  const void* bias = nullptr;
  void* mean = nullptr;    // saved mean (computed when training, else given)
  void* invstd = nullptr;  // saved 1/sqrt(var + eps) (computed)
  const void* var_in = nullptr;  // eval: the running variance
  void* var_unbiased = nullptr;  // training: the unbiased variance (for running_var), or null
  void* y = nullptr;
  const void* grad = nullptr;  // backward
  void* grad_x = nullptr;
  void* grad_w = nullptr;  // or null
  void* grad_b = nullptr;  // or null
};
using NormKernel = void (*)(const NormSpec& s);
extern KernelSlot<NormKernel> batch_norm_forward_kernel;
extern KernelSlot<NormKernel> batch_norm_backward_kernel;
extern KernelSlot<NormKernel> layer_norm_forward_kernel;
extern KernelSlot<NormKernel> layer_norm_backward_kernel;

}  // namespace ranvier
