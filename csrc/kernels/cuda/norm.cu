// CUDA batch_norm and layer_norm kernels (ops/norm.h slots) for float32 and float64: forward
// (training statistics, unbiased variance for the running stats, eval with running stats) and
// backward (grad_x, grad_w, grad_b). batch_norm: one warp or block per channel; layer_norm:
// one per row, and one per column for grad_w / grad_b (rows.cuh). The math is in norm.cuh.
// Deterministic: fixed lane folds and trees, no atomics.
#include "cuda/register.h"
#include "kernels/cuda/norm.cuh"
#include "kernels/cuda/rows.cuh"

namespace ranvier::cuda {

namespace {

enum class NormPart { BnForward, BnBackward, LnForward, LnBackward, LnParams };

template <typename T, NormPart kPart>
struct NormRow {
  NormSpec p;
  template <typename Fold> __device__ void operator()(int64_t r, const Fold& fold) const {
    using namespace norm_math;
    if constexpr (kPart == NormPart::BnForward) bn_forward_channel<T>(p, r, fold);
    else if constexpr (kPart == NormPart::BnBackward) bn_backward_channel<T>(p, r, fold);
    else if constexpr (kPart == NormPart::LnForward) ln_forward_row<T>(p, r, fold);
    else if constexpr (kPart == NormPart::LnBackward) ln_backward_row<T>(p, r, fold);
    else ln_param_column<T>(p, r, fold);
  }
};

template <NormPart kPart>
void run(const NormSpec& p, int64_t rows, int64_t length) {
  if (p.dtype == DType::Float64) return launch_rows(rows, length, NormRow<double, kPart>{p});
  if (p.dtype == DType::Float32) return launch_rows(rows, length, NormRow<float, kPart>{p});
  throw_unsupported_dtype("norm (CUDA)", p.dtype);
}

void bn_forward_cuda(const NormSpec& p) { run<NormPart::BnForward>(p, p.c, p.n * p.s); }
void bn_backward_cuda(const NormSpec& p) { run<NormPart::BnBackward>(p, p.c, p.n * p.s); }
void ln_forward_cuda(const NormSpec& p) { run<NormPart::LnForward>(p, p.n, p.c); }
void ln_backward_cuda(const NormSpec& p) {
  if (p.grad_x) run<NormPart::LnBackward>(p, p.n, p.c);
  if (p.grad_w || p.grad_b) run<NormPart::LnParams>(p, p.c, p.n);
}

}  // namespace

void register_norm_cuda() {
  batch_norm_forward_kernel.set(DeviceType::CUDA, &bn_forward_cuda);
  batch_norm_backward_kernel.set(DeviceType::CUDA, &bn_backward_cuda);
  layer_norm_forward_kernel.set(DeviceType::CUDA, &ln_forward_cuda);
  layer_norm_backward_kernel.set(DeviceType::CUDA, &ln_backward_cuda);
}

}  // namespace ranvier::cuda
