// CUDA kernels of the GradScaler ops (ops/amp.h), the same arithmetic as
// csrc/kernels/cpu/amp.cpp: unscale multiplies each element by *inv_scale in its compute type
// (float for float16 / bfloat16 / float32, double for float64) and raises *found_inf to 1 when
// an element is inf or NaN (every writer stores the same 1.0f, so the races are harmless and the
// result does not depend on the launch shape); the scale update is one thread. Both read and
// write their scalars in device memory: nothing comes back to the host.
#include <cmath>

#include "cuda/cuda_check.h"
#include "cuda/dtypes.cuh"
#include "cuda/loop.cuh"
#include "cuda/register.h"
#include "ops/amp.h"

namespace ranvier::cuda {

namespace {

// One element: scaled in place; true when it was not finite.
template <typename T, typename C>
__host__ __device__ inline bool unscale_one(T* p, C inv) {
  C v = convert<C>(*p);
  *p = convert<T>(v * inv);
  return !isfinite(v);
}

template <typename T, typename C>
__global__ void unscale_kernel(T* p, int64_t n, float* found_inf, const float* inv_scale) {
  const C inv = C(*inv_scale);
  bool bad = false;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    bad |= unscale_one<T, C>(p + i, inv);
  if (bad) *found_inf = 1.0f;
}

void amp_unscale_cuda(void* data, int64_t n, DType dtype, float* found_inf,
                      const float* inv_scale) {
  if (n == 0) return;
  const char* op = "_amp_foreach_non_finite_check_and_unscale_";
  auto launch = [&](auto* p, auto compute) {
    using T = std::remove_pointer_t<decltype(p)>;
    using C = decltype(compute);
    unscale_kernel<T, C><<<grid_for(n), kThreads>>>(p, n, found_inf, inv_scale);
    RV_CUDA_CHECK(cudaGetLastError());
  };
  switch (dtype) {
    case DType::Float32: return launch(static_cast<float*>(data), 0.0f);
    case DType::Float64: return launch(static_cast<double*>(data), 0.0);
    case DType::Float16: return launch(static_cast<DHalf*>(data), 0.0f);
    case DType::BFloat16: return launch(static_cast<DBf16*>(data), 0.0f);
    default: throw_unsupported_dtype(op, dtype);
  }
}

__global__ void update_scale_kernel(float* scale, int32_t* growth_tracker, const float* found_inf,
                                    double growth_factor, double backoff_factor,
                                    int64_t growth_interval) {
  if (*found_inf != 0.0f) {
    *scale = float(*scale * backoff_factor);
    *growth_tracker = 0;
    return;
  }
  const int64_t clean = int64_t(*growth_tracker) + 1;
  if (clean >= growth_interval) {
    const float grown = float(*scale * growth_factor);
    if (isfinite(grown)) *scale = grown;
    *growth_tracker = 0;
  } else {
    *growth_tracker = int32_t(clean);
  }
}

void amp_update_scale_cuda(float* scale, int32_t* growth_tracker, const float* found_inf,
                           double growth_factor, double backoff_factor, int64_t growth_interval) {
  update_scale_kernel<<<1, 1>>>(scale, growth_tracker, found_inf, growth_factor, backoff_factor,
                                growth_interval);
  RV_CUDA_CHECK(cudaGetLastError());
}

}  // namespace

void register_amp_cuda() {
  amp_unscale_kernel.set(DeviceType::CUDA, &amp_unscale_cuda);
  amp_update_scale_kernel.set(DeviceType::CUDA, &amp_update_scale_cuda);
}

}  // namespace ranvier::cuda
