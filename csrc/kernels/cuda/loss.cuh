// cross_entropy rows for the CUDA kernels (loss.cu), written against a Fold policy
// (kernels/cuda/reduce.cuh) so that the host-side test runs the same code. Row r is sample r
// of CrossEntropySpec's [n, c, inner] (its c logits, stride inner). Same formulas as the CPU
// kernel (kernels/cpu/loss.cpp), in double: with log-probabilities lp, target t, class
// weights w (sum W) and smoothing e,
//   loss = -(1 - e) w_t lp_t - (e / C) sum_c w_c lp_c
//   dloss/dz_j = p_j ((1 - e) w_t + e W / C) - (1 - e) w_t [j == t] - (e / C) w_j
// Ignored samples give 0. forward_row returns false (and writes nothing) for a target outside
// [0, C): the launcher reports it. T is the type of the loss, weights and gradients; Z that of
// the logits and their gradient (T, or float16 / bfloat16 read into double with T = float).
#pragma once
#include <cmath>

#include "cuda/dtypes.cuh"
#include "kernels/cuda/reduce.cuh"
#include "ops/loss.h"

namespace ranvier::cuda::loss_math {

using reduce_math::SumOp;

// std::max's rule (the first argument unless the second is larger), as the CPU scan does.
struct FirstMaxOp {
  RV_HOST_DEVICE double operator()(double a, double b) const { return a < b ? b : a; }
};

template <typename Z>
RV_HOST_DEVICE RV_INLINE double val(Z v) {
  return convert<double>(v);
}

// mx (the shift) and lse = log(sum(exp(z - mx))) of one row.
template <typename Z, typename Fold>
RV_HOST_DEVICE void row_stats(const Z* z, int64_t c, int64_t inner, const Fold& fold,
                              double& mx, double& lse) {
  double m = fold(c, -double(INFINITY), FirstMaxOp{}, [&](int64_t k) { return val(z[k * inner]); });
  mx = (m == -double(INFINITY)) ? 0.0 : m;
  const double shift = mx;
  const double s =
      fold(c, 0.0, SumOp{}, [&](int64_t k) { return std::exp(val(z[k * inner]) - shift); });
  lse = std::log(s);
}

template <typename T, typename Z = T, typename Fold>
RV_HOST_DEVICE bool forward_row(const CrossEntropySpec& s, int64_t r, const Fold& fold) {
  const int64_t c = s.c, inner = s.inner;
  const T* w = static_cast<const T*>(s.weight);
  T* loss = static_cast<T*>(s.loss);
  T* wt = static_cast<T*>(s.wt);
  const int64_t t = s.target[r];
  if (t == s.ignore_index) {
    if (fold.lane == 0) loss[r] = wt[r] = T(0);
    return true;
  }
  if (t < 0 || t >= c) return false;
  const Z* z = static_cast<const Z*>(s.logits) + (r / inner) * c * inner + r % inner;
  double mx, lse;
  row_stats(z, c, inner, fold, mx, lse);
  const double wtt = w ? double(w[t]) : 1.0;
  double l = -(1.0 - s.smoothing) * wtt * (val(z[t * inner]) - mx - lse);
  if (s.smoothing > 0) {
    const double acc = fold(c, 0.0, SumOp{}, [&](int64_t k) {
      return (w ? double(w[k]) : 1.0) * (val(z[k * inner]) - mx - lse);
    });
    l -= s.smoothing / double(c) * acc;
  }
  if (fold.lane == 0) {
    loss[r] = T(l);
    wt[r] = T(wtt);
  }
  return true;
}

template <typename T, typename Z = T, typename Fold>
RV_HOST_DEVICE void backward_row(const CrossEntropySpec& s, int64_t r, const Fold& fold) {
  const int64_t c = s.c, inner = s.inner;
  const T* w = static_cast<const T*>(s.weight);
  const int64_t base = (r / inner) * c * inner + r % inner;
  Z* gr = static_cast<Z*>(s.grad_in) + base;
  const int64_t t = s.target[r];
  if (t == s.ignore_index || t < 0 || t >= c) {
    for (int64_t k = fold.lane; k < c; k += Fold::kLanes) gr[k * inner] = convert<Z>(0.0);
    return;
  }
  const Z* z = static_cast<const Z*>(s.logits) + base;
  double mx, lse;
  row_stats(z, c, inner, fold, mx, lse);
  const double wsum = w ? fold(c, 0.0, SumOp{}, [&](int64_t k) { return double(w[k]); }) : double(c);
  const double e = s.smoothing;
  const double gs = double(static_cast<const T*>(s.grad)[r]);
  const double wtt = w ? double(w[t]) : 1.0;
  const double scale = (1.0 - e) * wtt + e * wsum / double(c);
  for (int64_t k = fold.lane; k < c; k += Fold::kLanes) {
    const double p = std::exp(val(z[k * inner]) - mx - lse);
    double v = p * scale - (e / double(c)) * (w ? double(w[k]) : 1.0);
    if (k == t) v -= (1.0 - e) * wtt;
    gr[k * inner] = convert<Z>(T(v * gs));
  }
}

}  // namespace ranvier::cuda::loss_math
