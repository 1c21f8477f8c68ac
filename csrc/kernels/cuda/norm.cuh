// batch_norm / layer_norm rows for the CUDA kernels (norm.cu), written against a Fold policy
// (kernels/cuda/reduce.cuh) so that the host-side test runs the same code. The CPU kernel's
// formulas (kernels/cpu/norm.cpp), statistics and parameter gradients in double:
//   batch_norm, per channel ch over M = n * s elements (element j at ((j / s) * c + ch) * s +
//   j % s): mean, biased variance -> invstd, unbiased variance for the running stats;
//   backward gx = w invstd (g - sum(g) / M - xh sum(g xh) / M) (eval: w invstd g).
//   layer_norm, per row of K = c elements; backward with d = g w:
//   gx = invstd (d - mean(d) - xh mean(d xh)); grad_w / grad_b per column over the rows.
#pragma once
#include <cmath>

#include "kernels/cuda/reduce.cuh"
#include "ops/norm.h"

namespace ranvier::cuda::norm_math {

using reduce_math::SumOp;

RV_HOST_DEVICE RV_INLINE int64_t bn_offset(const NormSpec& p, int64_t ch, int64_t j) {
  return ((j / p.s) * p.c + ch) * p.s + j % p.s;
}

template <typename T, typename Fold>
RV_HOST_DEVICE void bn_forward_channel(const NormSpec& p, int64_t ch, const Fold& fold) {
  const T* x = static_cast<const T*>(p.x);
  const T* w = static_cast<const T*>(p.weight);
  const T* b = static_cast<const T*>(p.bias);
  T* mean = static_cast<T*>(p.mean);
  T* y = static_cast<T*>(p.y);
  const int64_t m = p.n * p.s;
  double mu, is;
  if (p.training) {
    mu = fold(m, 0.0, SumOp{}, [&](int64_t j) { return double(x[bn_offset(p, ch, j)]); }) / double(m);
    const double sq = fold(m, 0.0, SumOp{}, [&](int64_t j) {
      const double d = double(x[bn_offset(p, ch, j)]) - mu;
      return d * d;
    });
    is = 1.0 / std::sqrt(sq / double(m) + p.eps);
    if (fold.lane == 0) {
      mean[ch] = T(mu);
      if (p.var_unbiased) static_cast<T*>(p.var_unbiased)[ch] = T(m > 1 ? sq / double(m - 1) : NAN);
    }
  } else {
    mu = double(mean[ch]);
    is = 1.0 / std::sqrt(double(static_cast<const T*>(p.var_in)[ch]) + p.eps);
  }
  if (fold.lane == 0) static_cast<T*>(p.invstd)[ch] = T(is);
  const double a = is * (w ? double(w[ch]) : 1.0);
  const double sh = (b ? double(b[ch]) : 0.0) - mu * a;
  for (int64_t j = fold.lane; j < m; j += Fold::kLanes) {
    const int64_t o = bn_offset(p, ch, j);
    y[o] = T(double(x[o]) * a + sh);
  }
}

template <typename T, typename Fold>
RV_HOST_DEVICE void bn_backward_channel(const NormSpec& p, int64_t ch, const Fold& fold) {
  const T* x = static_cast<const T*>(p.x);
  const T* w = static_cast<const T*>(p.weight);
  const T* g = static_cast<const T*>(p.grad);
  const int64_t m = p.n * p.s;
  const double mu = double(static_cast<const T*>(p.mean)[ch]);
  const double is = double(static_cast<const T*>(p.invstd)[ch]);
  const double sg = fold(m, 0.0, SumOp{}, [&](int64_t j) { return double(g[bn_offset(p, ch, j)]); });
  const double sgx = fold(m, 0.0, SumOp{}, [&](int64_t j) {
    const int64_t o = bn_offset(p, ch, j);
    return double(g[o]) * (double(x[o]) - mu) * is;
  });
  if (fold.lane == 0) {
    if (p.grad_w) static_cast<T*>(p.grad_w)[ch] = T(sgx);
    if (p.grad_b) static_cast<T*>(p.grad_b)[ch] = T(sg);
  }
  if (!p.grad_x) return;
  T* gx = static_cast<T*>(p.grad_x);
  const double a = is * (w ? double(w[ch]) : 1.0);
  for (int64_t j = fold.lane; j < m; j += Fold::kLanes) {
    const int64_t o = bn_offset(p, ch, j);
    if (p.training) {
      const double xh = (double(x[o]) - mu) * is;
      gx[o] = T(a * (double(g[o]) - sg / double(m) - xh * sgx / double(m)));
    } else {
      gx[o] = T(a * double(g[o]));
    }
  }
}

template <typename T, typename Fold>
RV_HOST_DEVICE void ln_forward_row(const NormSpec& p, int64_t r, const Fold& fold) {
  const int64_t k = p.c;
  const T* xr = static_cast<const T*>(p.x) + r * k;
  const T* w = static_cast<const T*>(p.weight);
  const T* b = static_cast<const T*>(p.bias);
  T* yr = static_cast<T*>(p.y) + r * k;
  const double mu = fold(k, 0.0, SumOp{}, [&](int64_t j) { return double(xr[j]); }) / double(k);
  const double sq = fold(k, 0.0, SumOp{}, [&](int64_t j) {
    const double d = double(xr[j]) - mu;
    return d * d;
  });
  const double is = 1.0 / std::sqrt(sq / double(k) + p.eps);
  if (fold.lane == 0) {
    static_cast<T*>(p.mean)[r] = T(mu);
    static_cast<T*>(p.invstd)[r] = T(is);
  }
  for (int64_t j = fold.lane; j < k; j += Fold::kLanes) {
    double v = (double(xr[j]) - mu) * is;
    if (w) v *= double(w[j]);
    if (b) v += double(b[j]);
    yr[j] = T(v);
  }
}

template <typename T, typename Fold>
RV_HOST_DEVICE void ln_backward_row(const NormSpec& p, int64_t r, const Fold& fold) {
  const int64_t k = p.c;
  const T* xr = static_cast<const T*>(p.x) + r * k;
  const T* gr = static_cast<const T*>(p.grad) + r * k;
  const T* w = static_cast<const T*>(p.weight);
  const double mu = double(static_cast<const T*>(p.mean)[r]);
  const double is = double(static_cast<const T*>(p.invstd)[r]);
  const double s1 = fold(k, 0.0, SumOp{}, [&](int64_t j) {
    return double(gr[j]) * (w ? double(w[j]) : 1.0);
  }) / double(k);
  const double s2 = fold(k, 0.0, SumOp{}, [&](int64_t j) {
    return double(gr[j]) * (w ? double(w[j]) : 1.0) * (double(xr[j]) - mu) * is;
  }) / double(k);
  T* gx = static_cast<T*>(p.grad_x) + r * k;
  for (int64_t j = fold.lane; j < k; j += Fold::kLanes) {
    const double d = double(gr[j]) * (w ? double(w[j]) : 1.0);
    const double xh = (double(xr[j]) - mu) * is;
    gx[j] = T(is * (d - s1 - xh * s2));
  }
}

// grad_w / grad_b of layer_norm for column j: sums over the rows.
template <typename T, typename Fold>
RV_HOST_DEVICE void ln_param_column(const NormSpec& p, int64_t j, const Fold& fold) {
  const int64_t k = p.c;
  const T* x = static_cast<const T*>(p.x);
  const T* g = static_cast<const T*>(p.grad);
  const T* mean = static_cast<const T*>(p.mean);
  const T* invstd = static_cast<const T*>(p.invstd);
  if (p.grad_b) {
    const double sb = fold(p.n, 0.0, SumOp{}, [&](int64_t r) { return double(g[r * k + j]); });
    if (fold.lane == 0) static_cast<T*>(p.grad_b)[j] = T(sb);
  }
  if (p.grad_w) {
    const double sw = fold(p.n, 0.0, SumOp{}, [&](int64_t r) {
      return double(g[r * k + j]) * (double(x[r * k + j]) - double(mean[r])) * double(invstd[r]);
    });
    if (fold.lane == 0) static_cast<T*>(p.grad_w)[j] = T(sw);
  }
}

}  // namespace ranvier::cuda::norm_math
