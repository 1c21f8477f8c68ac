// CUDA cross_entropy kernels (cross_entropy_forward_kernel / cross_entropy_backward_kernel,
// ops/loss.h) for float32 and float64, and float16 / bfloat16 logits with a float32 loss
// (Note [16-bit operands] in ops/iter.h): class weights, ignore_index, label smoothing; the op
// layer applies the reduction. One warp (or block, for 2048+ classes) per sample (rows.cuh);
// the row math is in loss.cuh. A target outside [0, C) is recorded in a device word
// (the first such target) and raised as IndexError after the kernel, like the CPU kernel.
#include "cuda/register.h"
#include "kernels/cuda/loss.cuh"
#include "kernels/cuda/rows.cuh"

namespace ranvier::cuda {

namespace {

// The smallest (row + 1) whose target is out of range in the last forward launch (~0: none).
__device__ unsigned long long g_bad_row;

template <typename T, typename Z, bool kForward>
struct CrossEntropyRow {
  CrossEntropySpec s;
  template <typename Fold> __device__ void operator()(int64_t r, const Fold& fold) const {
    if constexpr (kForward) {
      if (!loss_math::forward_row<T, Z>(s, r, fold) && fold.lane == 0)
        atomicMin(&g_bad_row, (unsigned long long)(r + 1));
    } else {
      loss_math::backward_row<T, Z>(s, r, fold);
    }
  }
};

template <bool kForward>
void run(const CrossEntropySpec& s) {
  const int64_t rows = s.n * s.inner;
  if (rows == 0) return;
  if constexpr (kForward) {
    const unsigned long long none = ~0ull;
    RV_CUDA_CHECK(cudaMemcpyToSymbol(g_bad_row, &none, sizeof none));
  }
  const DType z = s.logits_dtype;
  if (s.dtype == DType::Float64 && z == DType::Float64)
    launch_rows(rows, s.c, CrossEntropyRow<double, double, kForward>{s});
  else if (s.dtype == DType::Float32 && z == DType::Float32)
    launch_rows(rows, s.c, CrossEntropyRow<float, float, kForward>{s});
  else if (s.dtype == DType::Float32 && z == DType::BFloat16)
    launch_rows(rows, s.c, CrossEntropyRow<float, DBf16, kForward>{s});
  else if (s.dtype == DType::Float32 && z == DType::Float16)
    launch_rows(rows, s.c, CrossEntropyRow<float, DHalf, kForward>{s});
  else throw_unsupported_dtype("cross_entropy (CUDA)", z);
  if constexpr (kForward) {
    unsigned long long bad = 0;
    RV_CUDA_CHECK(cudaMemcpyFromSymbol(&bad, g_bad_row, sizeof bad));
    if (bad != ~0ull) {
      int64_t t = 0;
      RV_CUDA_CHECK(cudaMemcpy(&t, s.target + (bad - 1), sizeof t, cudaMemcpyDeviceToHost));
      RV_CHECK_INDEX(false, "cross_entropy: target ", t, " is out of bounds for ", s.c,
                     " classes");
    }
  }
}

void ce_forward_cuda(const CrossEntropySpec& s) { run<true>(s); }
void ce_backward_cuda(const CrossEntropySpec& s) { run<false>(s); }

}  // namespace

void register_loss_cuda() {
  cross_entropy_forward_kernel.set(DeviceType::CUDA, &ce_forward_cuda);
  cross_entropy_backward_kernel.set(DeviceType::CUDA, &ce_backward_cuda);
}

}  // namespace ranvier::cuda
