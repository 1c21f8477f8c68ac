// CUDA softmax / log_softmax kernels (softmax_forward_kernel, softmax_backward_kernel slots,
// ops/softmax.h) for float32 and float64: one warp per row, or one block per row for rows of
// kBlockRowLength elements or more (rows.cuh); the row math is in softmax.cuh. Deterministic:
// fixed lane folds and trees, no atomics.
#include "cuda/register.h"
#include "kernels/cuda/rows.cuh"
#include "kernels/cuda/softmax.cuh"

namespace ranvier::cuda {

namespace {

template <typename T, bool kForward>
struct SoftmaxRow {
  SoftmaxSpec s;
  template <typename Fold> __device__ void operator()(int64_t r, const Fold& fold) const {
    if constexpr (kForward) softmax_math::forward_row<T>(s, r, fold);
    else softmax_math::backward_row<T>(s, r, fold);
  }
};

template <bool kForward>
void run(const SoftmaxSpec& s) {
  const int64_t rows = s.outer * s.inner;
  if (rows == 0 || s.n == 0) return;
  if (s.dtype == DType::Float64) return launch_rows(rows, s.n, SoftmaxRow<double, kForward>{s});
  if (s.dtype == DType::Float32) return launch_rows(rows, s.n, SoftmaxRow<float, kForward>{s});
  throw_unsupported_dtype("softmax (CUDA)", s.dtype);
}

void softmax_forward_cuda(const SoftmaxSpec& s) { run<true>(s); }
void softmax_backward_cuda(const SoftmaxSpec& s) { run<false>(s); }

}  // namespace

void register_softmax_cuda() {
  softmax_forward_kernel.set(DeviceType::CUDA, &softmax_forward_cuda);
  softmax_backward_kernel.set(DeviceType::CUDA, &softmax_backward_cuda);
}

}  // namespace ranvier::cuda
