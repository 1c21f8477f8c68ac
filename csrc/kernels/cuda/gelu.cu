// CUDA kernel of gelu's fused slot (ops/gelu_grad.h): forward out = gelu(x) and backward
// out = g * gelu'(x) over n contiguous float32 / float64 / float16 / bfloat16 elements (16-bit
// ones computed in float32 registers), 4 or 8 per thread. The per-element math is in gelu.cuh.
#include "cuda/cuda_check.h"
#include "cuda/dtypes.cuh"
#include "cuda/loop.cuh"
#include "cuda/register.h"
#include "kernels/cuda/gelu.cuh"
#include "ops/gelu_grad.h"

namespace ranvier::cuda {

namespace {

// Storage type S, compute type C (float for the 16-bit types, converted in registers).
// Elements per thread: 8 for 16-bit storage (as many bytes in flight as 4 float32 values).
template <typename S>
constexpr int kGeluUnroll = sizeof(S) == 2 ? 2 * kUnroll : kUnroll;

template <typename S, typename C>
__global__ void gelu_dev(bool tanh_form, bool forward, const S* g, const S* x, S* out,
                         int64_t n) {
  constexpr int U = kGeluUnroll<S>;
  C xv[U], gv[U];
  unrolled_loop<U>(
      n,
      [&](int j, int64_t i) {
        xv[j] = convert<C>(x[i]);
        if (!forward) gv[j] = convert<C>(g[i]);
      },
      [&](int j, int64_t i) {
        out[i] = convert<S>(forward ? gelu_math::forward(tanh_form, xv[j])
                                    : gelu_math::backward(tanh_form, gv[j], xv[j]));
      });
}

template <typename S, typename C = S>
void launch(const GeluGradSpec& s) {
  gelu_dev<S, C><<<grid_for(s.n, kGeluUnroll<S>), kThreads>>>(
      s.tanh_form, s.forward, static_cast<const S*>(s.grad), static_cast<const S*>(s.x),
      static_cast<S*>(s.out), s.n);
  RV_CUDA_CHECK(cudaGetLastError());
}

void gelu_grad_cuda(const GeluGradSpec& s) {
  if (s.n == 0) return;
  switch (s.dtype) {
    case DType::Float64: return launch<double>(s);
    case DType::Float32: return launch<float>(s);
    case DType::BFloat16: return launch<DBf16, float>(s);
    case DType::Float16: return launch<DHalf, float>(s);
    default: throw_unsupported_dtype("gelu (CUDA)", s.dtype);
  }
}

}  // namespace

void register_gelu_cuda() { gelu_backward_kernel.set(DeviceType::CUDA, &gelu_grad_cuda); }

}  // namespace ranvier::cuda
