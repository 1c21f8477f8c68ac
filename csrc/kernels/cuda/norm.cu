// CUDA batch_norm and layer_norm kernels (ops/norm.h slots) for float32 and float64: forward
// (training statistics, unbiased variance for the running stats, eval with running stats) and
// backward (grad_x, grad_w, grad_b). batch_norm: one warp or block per channel; layer_norm:
// one per row (rows.cuh), and grad_w / grad_b as chunked column sums (ln_params below). The
// math is in norm.cuh.
// Deterministic: fixed lane folds and trees, no atomics.
#include <algorithm>

#include "cuda/context.h"
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

// layer_norm's grad_w / grad_b, column sums over the n rows: a block of kColX x kColY threads
// takes kColX neighbouring columns and one chunk of rows (a warp reads kColX neighbouring
// values; a fixed tree over y), the chunk sums go to scratch in float64 and a second kernel
// adds them in chunk order. Chunks come from the sizes only (deterministic).
constexpr int kColX = 32, kColY = 8;
constexpr int64_t kColBlocks = 2048, kColMinChunk = 64;

template <typename T>
__global__ void __launch_bounds__(kColX * kColY)
    ln_params_chunks_dev(NormSpec p, int64_t chunk, double* partial) {
  __shared__ double sw[kColY][kColX], sb[kColY][kColX];
  const T* x = static_cast<const T*>(p.x);
  const T* g = static_cast<const T*>(p.grad);
  const T* mean = static_cast<const T*>(p.mean);
  const T* invstd = static_cast<const T*>(p.invstd);
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t j = int64_t(blockIdx.x) * kColX + tx, r0 = int64_t(blockIdx.y) * chunk;
  const int64_t r1 = r0 + chunk < p.n ? r0 + chunk : p.n;
  double aw = 0.0, ab = 0.0;
  if (j < p.c)
    for (int64_t r = r0 + ty; r < r1; r += kColY) {
      const double gv = double(g[r * p.c + j]);
      ab += gv;
      aw += gv * (double(x[r * p.c + j]) - double(mean[r])) * double(invstd[r]);
    }
  sw[ty][tx] = aw;
  sb[ty][tx] = ab;
  __syncthreads();
  for (int half = kColY / 2; half > 0; half /= 2) {
    if (ty < half) {
      sw[ty][tx] += sw[ty + half][tx];
      sb[ty][tx] += sb[ty + half][tx];
    }
    __syncthreads();
  }
  if (ty == 0 && j < p.c) {
    partial[(2 * int64_t(blockIdx.y)) * p.c + j] = sw[0][tx];
    partial[(2 * int64_t(blockIdx.y) + 1) * p.c + j] = sb[0][tx];
  }
}

template <typename T>
__global__ void ln_params_fold_dev(NormSpec p, int64_t chunks, const double* partial) {
  RV_GRID_STRIDE(j, p.c) {
    double w = 0.0, b = 0.0;
    for (int64_t k = 0; k < chunks; ++k) {
      w += partial[2 * k * p.c + j];
      b += partial[(2 * k + 1) * p.c + j];
    }
    if (p.grad_w) static_cast<T*>(p.grad_w)[j] = T(w);
    if (p.grad_b) static_cast<T*>(p.grad_b)[j] = T(b);
  }
}

template <typename T>
void ln_params(const NormSpec& p) {
  const int64_t col_blocks = (p.c + kColX - 1) / kColX;
  const int64_t want = (kColBlocks + col_blocks - 1) / col_blocks;
  const int64_t most = (p.n + kColMinChunk - 1) / kColMinChunk;
  const int64_t chunks = std::max<int64_t>(1, std::min(want, most));
  const int64_t chunk = (p.n + chunks - 1) / chunks;
  ScratchBuffer partial(size_t(2 * chunks * p.c) * sizeof(double));
  ln_params_chunks_dev<T><<<dim3(unsigned(col_blocks), unsigned(chunks)), dim3(kColX, kColY)>>>(
      p, chunk, partial.as<double>());
  RV_CUDA_CHECK(cudaGetLastError());
  ln_params_fold_dev<T><<<grid_for(p.c), kThreads>>>(p, chunks, partial.as<double>());
  RV_CUDA_CHECK(cudaGetLastError());
}

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
  if (!(p.grad_w || p.grad_b) || p.c == 0) return;
  if (p.n == 0 || p.c > 65535 * int64_t(kColX)) return run<NormPart::LnParams>(p, p.c, p.n);
  if (p.dtype == DType::Float64) return ln_params<double>(p);
  if (p.dtype == DType::Float32) return ln_params<float>(p);
  throw_unsupported_dtype("layer_norm (CUDA)", p.dtype);
}

}  // namespace

void register_norm_cuda() {
  batch_norm_forward_kernel.set(DeviceType::CUDA, &bn_forward_cuda);
  batch_norm_backward_kernel.set(DeviceType::CUDA, &bn_backward_cuda);
  layer_norm_forward_kernel.set(DeviceType::CUDA, &ln_forward_cuda);
  layer_norm_backward_kernel.set(DeviceType::CUDA, &ln_backward_cuda);
}

}  // namespace ranvier::cuda
