// softmax / log_softmax rows for the CUDA kernels (softmax.cu), written against a Fold policy
// (kernels/cuda/reduce.cuh) so that the host-side test runs the same code. A row is the n
// elements (stride inner) of SoftmaxSpec's [outer, n, inner] at row r = o * inner + i.
// Forward: NaN-keeping max; sum of exp(x - max) in double; output. Backward: softmax
// gx = y (g - sum(g y)), log_softmax gx = g - exp(y) sum(g), sums in double (the CPU's math).
#pragma once
#include <cmath>

#include "kernels/cuda/reduce.cuh"
#include "ops/softmax.h"

namespace ranvier::cuda::softmax_math {

using reduce_math::NanMaxOp;
using reduce_math::SumOp;

template <typename T, typename Fold>
RV_HOST_DEVICE void forward_row(const SoftmaxSpec& s, int64_t r, const Fold& fold) {
  const int64_t n = s.n, inner = s.inner;
  const int64_t base = (r / inner) * n * inner + r % inner;
  const T* x = static_cast<const T*>(s.in) + base;
  T* y = static_cast<T*>(s.out) + base;
  const T mx = fold(n, T(-INFINITY), NanMaxOp{}, [&](int64_t k) { return x[k * inner]; });
  if (mx != mx) {
    for (int64_t k = fold.lane; k < n; k += Fold::kLanes) y[k * inner] = T(NAN);
    return;
  }
  // All -inf (or an empty row) keeps the shift finite so the output is NaN like exp / 0.
  const T shift = mx == T(-INFINITY) ? T(0) : mx;
  const double sum = fold(n, 0.0, SumOp{}, [&](int64_t k) {
    return std::exp(double(x[k * inner] - shift));
  });
  if (s.log) {
    const T lse = T(std::log(sum));
    for (int64_t k = fold.lane; k < n; k += Fold::kLanes) y[k * inner] = x[k * inner] - shift - lse;
  } else {
    const double inv = 1.0 / sum;
    for (int64_t k = fold.lane; k < n; k += Fold::kLanes)
      y[k * inner] = T(std::exp(double(x[k * inner] - shift)) * inv);
  }
}

template <typename T, typename Fold>
RV_HOST_DEVICE void backward_row(const SoftmaxSpec& s, int64_t r, const Fold& fold) {
  const int64_t n = s.n, inner = s.inner;
  const int64_t base = (r / inner) * n * inner + r % inner;
  const T* y = static_cast<const T*>(s.in) + base;
  const T* g = static_cast<const T*>(s.grad) + base;
  T* gx = static_cast<T*>(s.out) + base;
  if (s.log) {
    const double acc = fold(n, 0.0, SumOp{}, [&](int64_t k) { return double(g[k * inner]); });
    for (int64_t k = fold.lane; k < n; k += Fold::kLanes)
      gx[k * inner] = T(double(g[k * inner]) - std::exp(double(y[k * inner])) * acc);
  } else {
    const double acc = fold(n, 0.0, SumOp{}, [&](int64_t k) {
      return double(g[k * inner]) * double(y[k * inner]);
    });
    for (int64_t k = fold.lane; k < n; k += Fold::kLanes)
      gx[k * inner] = T(double(y[k * inner]) * (double(g[k * inner]) - acc));
  }
}

}  // namespace ranvier::cuda::softmax_math
