// CUDA kernel of gelu's fused slot (ops/gelu_grad.h): forward out = gelu(x) and backward
// out = g * gelu'(x) over n contiguous float32 / float64 elements, one thread per element
// (grid-stride). The per-element math is in gelu.cuh.
#include "cuda/cuda_check.h"
#include "cuda/loop.cuh"
#include "cuda/register.h"
#include "kernels/cuda/gelu.cuh"
#include "ops/gelu_grad.h"

namespace ranvier::cuda {

namespace {

template <typename T>
__global__ void gelu_dev(bool tanh_form, bool forward, const T* g, const T* x, T* out,
                         int64_t n) {
  RV_GRID_STRIDE(i, n) {
    out[i] = forward ? gelu_math::forward(tanh_form, x[i])
                     : gelu_math::backward(tanh_form, g[i], x[i]);
  }
}

template <typename T>
void launch(const GeluGradSpec& s) {
  gelu_dev<T><<<grid_for(s.n), kThreads>>>(s.tanh_form, s.forward,
                                           static_cast<const T*>(s.grad),
                                           static_cast<const T*>(s.x), static_cast<T*>(s.out),
                                           s.n);
  RV_CUDA_CHECK(cudaGetLastError());
}

void gelu_grad_cuda(const GeluGradSpec& s) {
  if (s.n == 0) return;
  if (s.dtype == DType::Float64) return launch<double>(s);
  if (s.dtype == DType::Float32) return launch<float>(s);
  throw_unsupported_dtype("gelu (CUDA)", s.dtype);
}

}  // namespace

void register_gelu_cuda() { gelu_backward_kernel.set(DeviceType::CUDA, &gelu_grad_cuda); }

}  // namespace ranvier::cuda
