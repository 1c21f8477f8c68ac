// Connectionist temporal classification loss (nn.functional.ctc_loss). log_probs [T, N, C];
// targets padded [N, S] or concatenated [sum(target_lengths)]; input_lengths and
// target_lengths [N]. The kernel runs the alpha recursion in log space per batch element for the
// negative log-likelihood (keeping the alphas when a gradient is needed), and the beta recursion
// for its gradient; 'mean' divides each loss by
// its target length (at least 1) and then averages over the batch. The gradient is the exact
// derivative with respect to log_probs (PyTorch's kernel adds exp(log_probs), a term that
// vanishes when log_probs comes from log_softmax). Double backward raises.
#pragma once

#include "core/dispatch.h"
#include "core/tensor.h"
#include "ops/loss.h"

namespace ranvier {

Tensor ctc_loss(const Tensor& log_probs, const Tensor& targets, const Tensor& input_lengths,
                const Tensor& target_lengths, int64_t blank, Reduction reduction,
                bool zero_infinity);

// Contiguous log_probs [t, n, c]; targets of batch element b start at targets + offset[b].
struct CtcSpec {
  DType dtype;
  int64_t t = 0, n = 0, c = 0, blank = 0;
  bool zero_infinity = false;
  const void* log_probs = nullptr;
  const int64_t* targets = nullptr;
  const int64_t* offset = nullptr;
  const int64_t* input_lengths = nullptr;
  const int64_t* target_lengths = nullptr;
  double* alpha = nullptr;     // forward: where to keep the alphas (or null); backward: them
  int64_t alpha_stride = 0;    // per batch element: t * (2 * max(target_lengths) + 1)
  void* nll = nullptr;         // forward: per-sample loss [n]
  const void* grad = nullptr;  // backward: per-sample loss gradient [n]
  void* grad_in = nullptr;     // backward: gradient of log_probs [t, n, c]
};
using CtcKernel = void (*)(const CtcSpec& s);
extern KernelSlot<CtcKernel> ctc_forward_kernel;
extern KernelSlot<CtcKernel> ctc_backward_kernel;

}  // namespace ranvier
