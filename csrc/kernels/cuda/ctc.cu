// CUDA CTC kernels (CtcSpec, ops/ctc.h), float32 and float64 log_probs, the same recursions as
// the CPU kernel (kernels/cpu/ctc.cpp) in double: one thread block per batch element.
// Forward: the block walks t = 0..len-1; per step its threads fill the alpha row over the
// extended label positions s (blank, y1, blank, ..., blank; 2L+1 of them) from the previous
// row, then synchronise; thread 0 turns the last row into the loss. Backward: the block zeroes
// its [:, b, :] slice of the gradient, fills the beta rows from t = len-1 down the same way
// (scratch memory), then per step one thread per class c adds up alpha + beta over the
// positions labelled c in position order (the CPU's order) and writes the gradient.
// The op passes targets, offsets and lengths in device memory; host arrays are uploaded.
#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

#include "cuda/context.h"
#include "cuda/cuda_check.h"
#include "cuda/loop.cuh"
#include "cuda/register.h"
#include "ops/ctc.h"

namespace ranvier::cuda {

namespace {

__device__ inline double lse2(double a, double b) {
  if (a == -INFINITY) return b;
  if (b == -INFINITY) return a;
  const double m = a > b ? a : b;
  return m + log(exp(a - m) + exp(b - m));
}

template <typename T>
struct DevSample {
  const CtcSpec& s;
  int64_t b, len, tl, ext;
  const int64_t* y;
  const T* lp;
  __device__ DevSample(const CtcSpec& spec, int64_t bb)
      : s(spec), b(bb), len(spec.input_lengths[bb]), tl(spec.target_lengths[bb]),
        ext(2 * spec.target_lengths[bb] + 1),
        y(spec.targets ? spec.targets + spec.offset[bb] : nullptr),
        lp(static_cast<const T*>(spec.log_probs)) {}
  __device__ int64_t label(int64_t i) const { return (i & 1) ? y[i >> 1] : s.blank; }
  __device__ double at(int64_t t, int64_t c) const { return double(lp[(t * s.n + b) * s.c + c]); }
  __device__ bool skip(int64_t i) const { return (i & 1) && i >= 2 && label(i) != label(i - 2); }
  // -log p from a filled alpha [len, ext]
  __device__ double nll_of(const double* alpha) const {
    if (len == 0) return tl == 0 ? 0.0 : INFINITY;
    const double* last = alpha + (len - 1) * ext;
    double ll = last[ext - 1];
    if (ext > 1) ll = lse2(ll, last[ext - 2]);
    return -ll;
  }
};

template <typename T>
__global__ void ctc_alpha(CtcSpec s, double* alpha_base) {
  for (int64_t b = blockIdx.x; b < s.n; b += gridDim.x) {
    DevSample<T> smp(s, b);
    double* alpha = alpha_base + b * s.alpha_stride;
    const int64_t ext = smp.ext;
    if (smp.len > 0) {
      for (int64_t i = threadIdx.x; i < ext; i += blockDim.x)
        alpha[i] = i == 0 ? smp.at(0, s.blank) : i == 1 ? smp.at(0, smp.label(1)) : -INFINITY;
      __syncthreads();
      for (int64_t t = 1; t < smp.len; ++t) {
        const double* prev = alpha + (t - 1) * ext;
        double* cur = alpha + t * ext;
        for (int64_t i = threadIdx.x; i < ext; i += blockDim.x) {
          double v = prev[i];
          if (i >= 1) v = lse2(v, prev[i - 1]);
          if (smp.skip(i)) v = lse2(v, prev[i - 2]);
          cur[i] = v == -INFINITY ? -INFINITY : v + smp.at(t, smp.label(i));
        }
        __syncthreads();
      }
    }
    if (threadIdx.x == 0) {
      double v = smp.nll_of(alpha);
      if (s.zero_infinity && isinf(v)) v = 0;
      static_cast<T*>(s.nll)[b] = T(v);
    }
    __syncthreads();
  }
}

template <typename T>
__global__ void ctc_grad(CtcSpec s, double* beta_base) {
  __shared__ double nll_sh;
  T* gin = static_cast<T*>(s.grad_in);
  for (int64_t b = blockIdx.x; b < s.n; b += gridDim.x) {
    DevSample<T> smp(s, b);
    for (int64_t e = threadIdx.x; e < s.t * s.c; e += blockDim.x)
      gin[((e / s.c) * s.n + b) * s.c + e % s.c] = T(0);
    const double* alpha = s.alpha + b * s.alpha_stride;
    if (threadIdx.x == 0) nll_sh = smp.len > 0 ? smp.nll_of(alpha) : 0.0;
    __syncthreads();
    const double nll = nll_sh;
    const int64_t len = smp.len, ext = smp.ext;
    const bool skip_all = len == 0 || ((isinf(nll) || isnan(nll)) && s.zero_infinity);
    if (!skip_all) {
      double* beta = beta_base + b * s.alpha_stride;
      double* endrow = beta + (len - 1) * ext;
      for (int64_t i = threadIdx.x; i < ext; i += blockDim.x)
        endrow[i] = i == ext - 1   ? smp.at(len - 1, s.blank)
                    : i == ext - 2 ? smp.at(len - 1, smp.label(ext - 2))
                                   : -INFINITY;
      __syncthreads();
      for (int64_t t = len - 2; t >= 0; --t) {
        const double* nxt = beta + (t + 1) * ext;
        double* cur = beta + t * ext;
        for (int64_t i = threadIdx.x; i < ext; i += blockDim.x) {
          double v = nxt[i];
          if (i + 1 < ext) v = lse2(v, nxt[i + 1]);
          if (i + 2 < ext && smp.skip(i + 2)) v = lse2(v, nxt[i + 2]);
          cur[i] = v == -INFINITY ? -INFINITY : v + smp.at(t, smp.label(i));
        }
        __syncthreads();
      }
      const double g = double(static_cast<const T*>(s.grad)[b]);
      for (int64_t e = threadIdx.x; e < len * s.c; e += blockDim.x) {
        const int64_t t = e / s.c, c = e % s.c;
        const double* a = alpha + t * ext;
        const double* bt = beta + t * ext;
        double acc = -INFINITY;
        for (int64_t i = 0; i < ext; ++i) {
          if (smp.label(i) != c) continue;
          const double ab = a[i] == -INFINITY || bt[i] == -INFINITY ? -INFINITY : a[i] + bt[i];
          acc = lse2(acc, ab);
        }
        if (acc != -INFINITY)
          gin[(t * s.n + b) * s.c + c] = T(-exp(acc - smp.at(t, c) + nll) * g);
      }
    }
    __syncthreads();
  }
}

// Host arrays of the spec on the device: targets, offsets and lengths.
struct DeviceIndex {
  std::unique_ptr<ScratchBuffer> buf;
  const int64_t* upload(const int64_t* host, int64_t count) {
    if (host == nullptr || count == 0) return host;
    cudaPointerAttributes attr;
    if (cudaPointerGetAttributes(&attr, host) == cudaSuccess &&
        (attr.type == cudaMemoryTypeDevice || attr.type == cudaMemoryTypeManaged))
      return host;
    (void)cudaGetLastError();
    buf = std::make_unique<ScratchBuffer>(size_t(count) * sizeof(int64_t));
    RV_CUDA_CHECK(cudaMemcpy(buf->as<void>(), host, size_t(count) * sizeof(int64_t),
                             cudaMemcpyHostToDevice));
    return buf->as<int64_t>();
  }
};

bool on_host(const void* p) {
  cudaPointerAttributes attr;
  if (cudaPointerGetAttributes(&attr, p) != cudaSuccess) {
    (void)cudaGetLastError();
    return true;
  }
  return attr.type != cudaMemoryTypeDevice && attr.type != cudaMemoryTypeManaged;
}

// The spec with its index arrays on the device: used in place when the op passes device memory
// (it does: ops/ctc.cpp copies them to log_probs' device), uploaded (kept alive by `keep`) when
// a caller passes host arrays.
CtcSpec device_spec(const CtcSpec& s, DeviceIndex (&keep)[4]) {
  check_device_pointer(s.log_probs, "ctc_loss", "log_probs");
  const bool host = on_host(s.offset);
  RV_CHECK(on_host(s.input_lengths) == host && on_host(s.target_lengths) == host &&
               (s.targets == nullptr || on_host(s.targets) == host),
           "ctc_loss (CUDA): expected the targets, lengths and target offsets all in host "
           "memory or all in device memory");
  if (!host) return s;
  int64_t targets = 0;
  for (int64_t b = 0; b < s.n; ++b)
    targets = std::max(targets, s.offset[b] + s.target_lengths[b]);
  CtcSpec d = s;
  d.targets = keep[0].upload(s.targets, targets);
  d.offset = keep[1].upload(s.offset, s.n);
  d.input_lengths = keep[2].upload(s.input_lengths, s.n);
  d.target_lengths = keep[3].upload(s.target_lengths, s.n);
  return d;
}

unsigned blocks_for(int64_t n) { return unsigned(std::max<int64_t>(1, std::min<int64_t>(n, 65535))); }

template <typename T>
void forward_t(const CtcSpec& s) {
  if (s.n == 0) return;
  DeviceIndex keep[4];
  CtcSpec d = device_spec(s, keep);
  std::unique_ptr<ScratchBuffer> scratch;
  double* alpha = s.alpha;
  if (!alpha) {
    scratch = std::make_unique<ScratchBuffer>(size_t(s.n * s.alpha_stride) * sizeof(double));
    alpha = scratch->as<double>();
  }
  ctc_alpha<T><<<blocks_for(s.n), kThreads, 0, current_stream()>>>(d, alpha);
  RV_CUDA_CHECK(cudaGetLastError());
}

template <typename T>
void backward_t(const CtcSpec& s) {
  if (s.n == 0) return;
  DeviceIndex keep[4];
  CtcSpec d = device_spec(s, keep);
  ScratchBuffer beta(size_t(s.n * s.alpha_stride) * sizeof(double));
  ctc_grad<T><<<blocks_for(s.n), kThreads, 0, current_stream()>>>(d, beta.as<double>());
  RV_CUDA_CHECK(cudaGetLastError());
}

void ctc_forward_cuda(const CtcSpec& s) {
  if (s.dtype == DType::Float64) forward_t<double>(s);
  else if (s.dtype == DType::Float32) forward_t<float>(s);
  else throw_unsupported_dtype("ctc_loss", s.dtype);
}

void ctc_backward_cuda(const CtcSpec& s) {
  if (s.dtype == DType::Float64) backward_t<double>(s);
  else if (s.dtype == DType::Float32) backward_t<float>(s);
  else throw_unsupported_dtype("ctc_loss", s.dtype);
}

}  // namespace

void register_ctc_cuda() {
  ctc_forward_kernel.set(DeviceType::CUDA, &ctc_forward_cuda);
  ctc_backward_kernel.set(DeviceType::CUDA, &ctc_backward_cuda);
}

}  // namespace ranvier::cuda
