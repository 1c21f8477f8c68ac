// CUDA pooling kernels (ops/pool.h slots) for float32 and float64: max pool (values and flat
// argmax) and average pool over PoolSpec's separable windows (max_pool2d, avg_pool2d and the
// adaptive forms), and both backward passes as gathers per input element (no atomics). The
// window tables go to the device once per call (Scratch); the per-element math, bitwise the
// CPU kernel's, is in pool.cuh.
#include "cuda/cuda_check.h"
#include "cuda/dtypes.cuh"
#include "cuda/loop.cuh"
#include "cuda/register.h"
#include "kernels/cuda/pool.cuh"
#include "kernels/cuda/scratch.cuh"

namespace ranvier::cuda {

namespace {

using namespace pool_math;

// The spec's tables on the device.
struct DeviceTables {
  HostAxis hr, hc;
  Scratch ints, dbl;
  PoolTables t;
  explicit DeviceTables(const PoolSpec& s)
      : hr(host_axis(*s.rows, s.h)), hc(host_axis(*s.cols, s.w)),
        ints((hr.ints.size() + hc.ints.size()) * sizeof(int64_t)),
        dbl((hr.div.size() + hc.div.size()) * sizeof(double)) {
    int64_t* ip = ints.as<int64_t>();
    double* dp = dbl.as<double>();
    ints.upload(hr.ints.data(), hr.ints.size() * sizeof(int64_t));
    RV_CUDA_CHECK(cudaMemcpy(ip + hr.ints.size(), hc.ints.data(), hc.ints.size() * sizeof(int64_t),
                             cudaMemcpyHostToDevice));
    if (!hr.div.empty()) dbl.upload(hr.div.data(), hr.div.size() * sizeof(double));
    if (!hc.div.empty())
      RV_CUDA_CHECK(cudaMemcpy(dp + hr.div.size(), hc.div.data(), hc.div.size() * sizeof(double),
                               cudaMemcpyHostToDevice));
    t.rows = axis_view(hr, ip, dp);
    t.cols = axis_view(hc, ip + hr.ints.size(), dp + hr.div.size());
    t.divisor = s.divisor;
    t.plain_2x2 = is_plain_2x2(s);
  }
};

template <typename T>
__global__ void max_fwd_dev(PoolTables t, const T* in, T* out, int64_t* idx, int64_t n) {
  RV_GRID_STRIDE(k, n) { max_forward<T>(t, in, out, idx, k); }
}
template <typename T>
__global__ void max_bwd_dev(PoolTables t, const T* g, const int64_t* idx, T* gi, int64_t n) {
  RV_GRID_STRIDE(e, n) { max_backward<T>(t, g, idx, gi, e); }
}
template <typename T>
__global__ void avg_fwd_dev(PoolTables t, const T* in, T* out, int64_t n) {
  RV_GRID_STRIDE(k, n) { avg_forward<T>(t, in, out, k); }
}
template <typename T>
__global__ void avg_bwd_dev(PoolTables t, const T* g, T* gi, int64_t n) {
  RV_GRID_STRIDE(e, n) { avg_backward<T>(t, g, gi, e); }
}

template <typename F>
void by_dtype(DType d, const char* name, F&& f) {
  if (d == DType::Float32) return f(TypeTag<float>{});
  if (d == DType::Float64) return f(TypeTag<double>{});
  throw_unsupported_dtype(name, d);
}

int64_t out_numel(const PoolSpec& s) {
  return s.planes * int64_t(s.rows->start.size()) * int64_t(s.cols->start.size());
}

void max_pool_cuda(const PoolSpec& s, const char* in, char* out, int64_t* idx) {
  const int64_t n = out_numel(s);
  if (n == 0) return;
  DeviceTables d(s);
  by_dtype(s.dtype, "max_pool2d", [&](auto tag) {
    using T = typename decltype(tag)::type;
    max_fwd_dev<T><<<grid_for(n), kThreads>>>(d.t, reinterpret_cast<const T*>(in),
                                              reinterpret_cast<T*>(out), idx, n);
  });
  RV_CUDA_CHECK(cudaGetLastError());
}

void max_pool_backward_cuda(const PoolSpec& s, const char* grad_out, const int64_t* idx,
                            char* grad_in) {
  const int64_t n = s.planes * s.h * s.w;
  if (n == 0) return;
  DeviceTables d(s);
  by_dtype(s.dtype, "max_pool2d_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    max_bwd_dev<T><<<grid_for(n), kThreads>>>(d.t, reinterpret_cast<const T*>(grad_out), idx,
                                              reinterpret_cast<T*>(grad_in), n);
  });
  RV_CUDA_CHECK(cudaGetLastError());
}

void avg_pool_cuda(const PoolSpec& s, const char* in, char* out) {
  const int64_t n = out_numel(s);
  if (n == 0) return;
  DeviceTables d(s);
  by_dtype(s.dtype, "avg_pool2d", [&](auto tag) {
    using T = typename decltype(tag)::type;
    avg_fwd_dev<T><<<grid_for(n), kThreads>>>(d.t, reinterpret_cast<const T*>(in),
                                              reinterpret_cast<T*>(out), n);
  });
  RV_CUDA_CHECK(cudaGetLastError());
}

void avg_pool_backward_cuda(const PoolSpec& s, const char* grad_out, char* grad_in) {
  const int64_t n = s.planes * s.h * s.w;
  if (n == 0) return;
  DeviceTables d(s);
  by_dtype(s.dtype, "avg_pool2d_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    avg_bwd_dev<T><<<grid_for(n), kThreads>>>(d.t, reinterpret_cast<const T*>(grad_out),
                                              reinterpret_cast<T*>(grad_in), n);
  });
  RV_CUDA_CHECK(cudaGetLastError());
}

}  // namespace

void register_pool_cuda() {
  max_pool_kernel.set(DeviceType::CUDA, &max_pool_cuda);
  max_pool_backward_kernel.set(DeviceType::CUDA, &max_pool_backward_cuda);
  avg_pool_kernel.set(DeviceType::CUDA, &avg_pool_cuda);
  avg_pool_backward_kernel.set(DeviceType::CUDA, &avg_pool_backward_cuda);
}

}  // namespace ranvier::cuda
