// CUDA upsample kernels (upsample_forward_kernel / upsample_backward_kernel, ops/upsample.h)
// for float32 and float64, every mode (they all arrive as separable tap tables): forward one
// thread per output element, backward one thread per input-gradient element gathering from
// the inverse tap tables (no atomics). The tables go to the device once per call (Scratch);
// the math, bitwise the CPU kernel's, is in upsample.cuh.
#include <memory>

#include "cuda/cuda_check.h"
#include "cuda/loop.cuh"
#include "cuda/register.h"
#include "kernels/cuda/scratch.cuh"
#include "kernels/cuda/upsample.cuh"

namespace ranvier::cuda {

namespace {

using namespace upsample_math;

struct Inverses {
  Inverse d[3];
};

template <typename T>
__global__ void forward_dev(UpsampleSpec s, int64_t n) {
  RV_GRID_STRIDE(e, n) { forward_element<T>(s, e); }
}

template <typename T>
__global__ void backward_dev(UpsampleSpec s, Inverses inv, int64_t n) {
  RV_GRID_STRIDE(e, n) { backward_element<T>(s, inv.d, e); }
}

// The spec with its tap tables copied to the device (kept alive by the Scratch members).
struct DeviceSpec {
  UpsampleSpec s;
  std::vector<int64_t> ints;
  std::vector<double> dbl;
  int64_t ioff[3] = {}, woff[3] = {}, inv_off[3] = {};
  std::unique_ptr<Scratch> di, dd;
  DeviceSpec(const UpsampleSpec& spec, bool backward) : s(spec) {
    for (int q = 0; q < 3; ++q) {
      const int64_t n = s.out[q] * s.k[q];
      ioff[q] = int64_t(ints.size());
      ints.insert(ints.end(), s.idx[q], s.idx[q] + n);
      woff[q] = int64_t(dbl.size());
      dbl.insert(dbl.end(), s.w[q], s.w[q] + n);
      if (backward) {
        std::vector<int64_t> t = inverse_table(s.idx[q], s.out[q], s.k[q], s.in[q]);
        inv_off[q] = int64_t(ints.size());
        ints.insert(ints.end(), t.begin(), t.end());
      }
    }
    di = std::make_unique<Scratch>(ints.size() * sizeof(int64_t));
    dd = std::make_unique<Scratch>(dbl.size() * sizeof(double));
    di->upload(ints.data(), ints.size() * sizeof(int64_t));
    dd->upload(dbl.data(), dbl.size() * sizeof(double));
    for (int q = 0; q < 3; ++q) {
      s.idx[q] = di->as<int64_t>() + ioff[q];
      s.w[q] = dd->as<double>() + woff[q];
    }
  }
  Inverses inverses() const {
    Inverses v;
    for (int q = 0; q < 3; ++q)
      v.d[q] = inverse_view(di->as<int64_t>() + inv_off[q], s.in[q], s.out[q] * s.k[q]);
    return v;
  }
};

void upsample_forward_cuda(const UpsampleSpec& spec) {
  const int64_t n = spec.planes * spec.out[0] * spec.out[1] * spec.out[2];
  if (n == 0) return;
  DeviceSpec d(spec, false);
  if (spec.dtype == DType::Float64) forward_dev<double><<<grid_for(n), kThreads>>>(d.s, n);
  else if (spec.dtype == DType::Float32) forward_dev<float><<<grid_for(n), kThreads>>>(d.s, n);
  else throw_unsupported_dtype("upsample (CUDA)", spec.dtype);
  RV_CUDA_CHECK(cudaGetLastError());
}

void upsample_backward_cuda(const UpsampleSpec& spec) {
  const int64_t n = spec.planes * spec.in[0] * spec.in[1] * spec.in[2];
  if (n == 0) return;
  DeviceSpec d(spec, true);
  const Inverses inv = d.inverses();
  if (spec.dtype == DType::Float64) backward_dev<double><<<grid_for(n), kThreads>>>(d.s, inv, n);
  else if (spec.dtype == DType::Float32) backward_dev<float><<<grid_for(n), kThreads>>>(d.s, inv, n);
  else throw_unsupported_dtype("upsample_backward (CUDA)", spec.dtype);
  RV_CUDA_CHECK(cudaGetLastError());
}

}  // namespace

void register_upsample_cuda() {
  upsample_forward_kernel.set(DeviceType::CUDA, &upsample_forward_cuda);
  upsample_backward_kernel.set(DeviceType::CUDA, &upsample_backward_cuda);
}

}  // namespace ranvier::cuda
