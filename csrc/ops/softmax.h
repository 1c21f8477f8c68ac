// Softmax family: softmax, log_softmax and softmin over one dim, with an optional dtype the
// input is converted to first. Fused, numerically stable CPU kernels (max pass, exp-sum pass,
// output pass); the backward runs a fused kernel, or the same formula written with ops when a
// graph of the backward is wanted (create_graph=True), so double backward works.
#pragma once
#include <optional>

#include "core/dispatch.h"
#include "core/tensor.h"

namespace ranvier {

// exp(x - max) / sum(exp(x - max)) along dim.
Tensor softmax(const Tensor& t, int64_t dim, std::optional<DType> dtype = std::nullopt);
// x - max - log(sum(exp(x - max))) along dim.
Tensor log_softmax(const Tensor& t, int64_t dim, std::optional<DType> dtype = std::nullopt);
// softmax(-x) along dim.
Tensor softmin(const Tensor& t, int64_t dim, std::optional<DType> dtype = std::nullopt);

// A contiguous float32/float64 tensor seen as [outer, n, inner]; the op runs along n.
struct SoftmaxSpec {
  DType dtype;
  int64_t outer = 1, n = 1, inner = 1;
  bool log = false;
  const void* in = nullptr;    // forward: input;        backward: the output y
  const void* grad = nullptr;  // backward: the output gradient
  void* out = nullptr;         // forward: y;            backward: the input gradient
};
using SoftmaxKernel = void (*)(const SoftmaxSpec& s);
extern KernelSlot<SoftmaxKernel> softmax_forward_kernel;
extern KernelSlot<SoftmaxKernel> softmax_backward_kernel;

}  // namespace ranvier
