// Fused cross_entropy with class-index targets: log_softmax and the negative log-likelihood in
// one kernel pass, with class weights, ignore_index, label smoothing and reduction
// none/mean/sum (mean divides by the summed weights of the non-ignored targets), over
// input [N, C, d1, ...] or [C]. The backward kernel writes (softmax - smoothed one-hot) scaled
// by each sample's weight and output gradient; its double backward raises.
#pragma once
#include <optional>
#include <string>

#include "core/dispatch.h"
#include "core/tensor.h"

namespace ranvier {

enum class Reduction : int8_t { None, Mean, Sum };
// Parses 'none' / 'mean' / 'sum'; ValueError naming op otherwise.
Reduction parse_reduction(const std::string& s, const char* op);

// dtype: of the loss (default the input's; PyTorch's ops with a dtype argument cast the input
// to it first, and so does this one, except that 16-bit logits with dtype float32 are read in
// place where the device's kernels convert them).
Tensor cross_entropy(const Tensor& input, const Tensor& target, const Tensor& weight,
                     Reduction reduction, int64_t ignore_index, double label_smoothing,
                     std::optional<DType> dtype = std::nullopt);

// Contiguous logits seen as [n, c, inner]; targets [n * inner]; weight [c] or null.
struct CrossEntropySpec {
  DType dtype;  // of the loss, wt, weight and grad
  // Of logits and grad_in: dtype; the CUDA kernels also take float16 / bfloat16 logits with
  // dtype float32 (Note [16-bit operands] in ops/iter.h).
  DType logits_dtype = DType::Float32;
  int64_t n = 1, c = 1, inner = 1;
  const void* logits = nullptr;
  const int64_t* target = nullptr;
  const void* weight = nullptr;
  int64_t ignore_index = -100;
  double smoothing = 0;
  void* loss = nullptr;        // forward: per-sample loss [n * inner]
  void* wt = nullptr;          // forward: per-sample target weight (0 when ignored)
  const void* grad = nullptr;  // backward: per-sample output gradient [n * inner]
  void* grad_in = nullptr;     // backward: gradient of the logits
};
using CrossEntropyKernel = void (*)(const CrossEntropySpec& s);
extern KernelSlot<CrossEntropyKernel> cross_entropy_forward_kernel;
extern KernelSlot<CrossEntropyKernel> cross_entropy_backward_kernel;

}  // namespace ranvier
