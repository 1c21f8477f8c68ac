// CPU softmax / log_softmax kernels over [outer, n, inner] (see ops/softmax.h); float32 runs on
// the vectorised kernels of softmax_float.cpp, float64 here. Forward: one
// pass for the max, one for the sum of exp(x - max) (accumulated in double), one writing the
// output. Backward: softmax gy = y * (g - sum(g * y)), log_softmax gx = g - exp(y) * sum(g).
// Every row is reduced serially in index order, so results do not depend on the thread count.
#include <algorithm>
#include <cmath>
#include <limits>

#include "core/parallel.h"
#include "kernels/cpu/softmax_float.h"
#include "ops/softmax.h"

namespace ranvier::cpu {

namespace {

template <typename T>
void forward(const SoftmaxSpec& s) {
  const T* in = static_cast<const T*>(s.in);
  T* out = static_cast<T*>(s.out);
  const int64_t n = s.n, inner = s.inner;
  const int64_t rows = s.outer * inner;
  int64_t grain = std::max<int64_t>(1, kGrainSize / std::max<int64_t>(n, 1));
  parallel_for(0, rows, grain, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const int64_t o = r / inner, i = r % inner;
      const T* x = in + o * n * inner + i;
      T* y = out + o * n * inner + i;
      T mx = -std::numeric_limits<T>::infinity();
      bool nan = false;
      for (int64_t k = 0; k < n; ++k) {
        T v = x[k * inner];
        if (v != v) nan = true;
        mx = v > mx ? v : mx;
      }
      if (nan) {
        for (int64_t k = 0; k < n; ++k) y[k * inner] = std::numeric_limits<T>::quiet_NaN();
        continue;
      }
      // All -inf (or an empty row) keeps the shift finite so the output is NaN like exp/0.
      T shift = mx == -std::numeric_limits<T>::infinity() ? T(0) : mx;
      double sum = 0;
      for (int64_t k = 0; k < n; ++k) sum += std::exp(double(x[k * inner] - shift));
      if (s.log) {
        T lse = T(std::log(sum));
        for (int64_t k = 0; k < n; ++k) y[k * inner] = x[k * inner] - shift - lse;
      } else {
        double inv = 1.0 / sum;
        for (int64_t k = 0; k < n; ++k)
          y[k * inner] = T(std::exp(double(x[k * inner] - shift)) * inv);
      }
    }
  });
}

template <typename T>
void backward(const SoftmaxSpec& s) {
  const T* yv = static_cast<const T*>(s.in);
  const T* gv = static_cast<const T*>(s.grad);
  T* out = static_cast<T*>(s.out);
  const int64_t n = s.n, inner = s.inner;
  const int64_t rows = s.outer * inner;
  int64_t grain = std::max<int64_t>(1, kGrainSize / std::max<int64_t>(n, 1));
  parallel_for(0, rows, grain, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const int64_t base = (r / inner) * n * inner + r % inner;
      const T* y = yv + base;
      const T* g = gv + base;
      T* gx = out + base;
      double acc = 0;
      if (s.log) {
        for (int64_t k = 0; k < n; ++k) acc += double(g[k * inner]);
        for (int64_t k = 0; k < n; ++k)
          gx[k * inner] = T(double(g[k * inner]) - std::exp(double(y[k * inner])) * acc);
      } else {
        for (int64_t k = 0; k < n; ++k) acc += double(g[k * inner]) * double(y[k * inner]);
        for (int64_t k = 0; k < n; ++k)
          gx[k * inner] = T(double(y[k * inner]) * (double(g[k * inner]) - acc));
      }
    }
  });
}

void softmax_forward_cpu(const SoftmaxSpec& s) {
  if (s.dtype == DType::Float64) forward<double>(s);
  else softmax_forward_f32(s);
}
void softmax_backward_cpu(const SoftmaxSpec& s) {
  if (s.dtype == DType::Float64) backward<double>(s);
  else softmax_backward_f32(s);
}

}  // namespace

void register_softmax_cpu() {
  softmax_forward_kernel.set(DeviceType::CPU, &softmax_forward_cpu);
  softmax_backward_kernel.set(DeviceType::CPU, &softmax_backward_cpu);
}

}  // namespace ranvier::cpu
