// CPU cross_entropy kernels (see ops/loss.h). For one sample with log-probabilities lp,
// target t, class weights w (sum W) and smoothing e:
//   loss = -(1 - e) w_t lp_t - (e / C) sum_c w_c lp_c
//   dloss/dz_j = p_j ((1 - e) w_t + e W / C) - (1 - e) w_t [j == t] - (e / C) w_j
// Ignored samples give 0. A target out of [0, C) raises IndexError.
// Float rows with unit stride (the usual (N, C) logits) take exp_f (Note [Fast float math]) in
// vectorised loops; everything else runs in double with libm.
#pragma GCC optimize("no-trapping-math")  // see kernels/cpu/fast_math.h
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "core/error.h"
#include "core/parallel.h"
#include "kernels/cpu/fast_math.h"
#include "ops/loss.h"

namespace ranvier::cpu {

namespace {

template <typename T>
struct Row {
  const T* z;
  int64_t stride;
  double mx, lse;  // log(sum(exp(z - mx)))
};

template <typename T>
Row<T> scan_row(const T* z, int64_t c, int64_t stride) {
  Row<T> r{z, stride, -std::numeric_limits<double>::infinity(), 0};
  for (int64_t k = 0; k < c; ++k) r.mx = std::max(r.mx, double(z[k * stride]));
  double shift = std::isinf(r.mx) && r.mx < 0 ? 0.0 : r.mx;
  double s = 0;
  for (int64_t k = 0; k < c; ++k) s += std::exp(double(z[k * stride]) - shift);
  r.mx = shift;
  r.lse = std::log(s);
  return r;
}

// The float, unit-stride version of scan_row: max, then the sum of exp_f(z - max) in float.
RV_MULTIVERSION void scan_row_f(const float* z, int64_t c, double* mx_out, double* lse_out) {
  float mx = -std::numeric_limits<float>::infinity();
#pragma omp simd reduction(max : mx)
  for (int64_t k = 0; k < c; ++k) mx = std::max(mx, z[k]);
  const float shift = std::isinf(mx) && mx < 0 ? 0.0f : mx;
  float s = 0;
#pragma omp simd reduction(+ : s)
  for (int64_t k = 0; k < c; ++k) s += exp_f(z[k] - shift);
  *mx_out = shift;
  *lse_out = std::log(double(s));
}

Row<float> scan_row(const float* z, int64_t c, int64_t stride) {
  if (stride != 1) return scan_row<float>(z, c, stride);
  Row<float> r{z, 1, 0, 0};
  scan_row_f(z, c, &r.mx, &r.lse);
  return r;
}

// gr[k] = (exp(z[k] - shift) * scale - ec * w_k) * gs for a float unit-stride row (w_k = 1
// without class weights); the caller fixes up the target's entry.
RV_MULTIVERSION void grad_row_f(const float* z, int64_t c, float shift, float scale, float ec,
                                const float* w, float gs, float* gr) {
  if (w) {
    for (int64_t k = 0; k < c; ++k) gr[k] = (exp_f(z[k] - shift) * scale - ec * w[k]) * gs;
  } else {
    for (int64_t k = 0; k < c; ++k) gr[k] = (exp_f(z[k] - shift) * scale - ec) * gs;
  }
}

template <typename T>
void check_target(const CrossEntropySpec& s, int64_t t) {
  RV_CHECK_INDEX(t >= 0 && t < s.c, "cross_entropy: target ", t,
                 " is out of bounds for ", s.c, " classes");
}

template <typename T>
void forward(const CrossEntropySpec& s) {
  const T* z = static_cast<const T*>(s.logits);
  const T* w = static_cast<const T*>(s.weight);
  T* loss = static_cast<T*>(s.loss);
  T* wt = static_cast<T*>(s.wt);
  const int64_t c = s.c, inner = s.inner;
  double wsum = 0;
  if (w) for (int64_t k = 0; k < c; ++k) wsum += double(w[k]);
  else wsum = double(c);
  int64_t grain = std::max<int64_t>(1, kGrainSize / std::max<int64_t>(c, 1));
  parallel_for(0, s.n * inner, grain, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      int64_t t = s.target[r];
      if (t == s.ignore_index) {
        loss[r] = T(0);
        wt[r] = T(0);
        continue;
      }
      check_target<T>(s, t);
      const T* zr = z + (r / inner) * c * inner + r % inner;
      Row<T> row = scan_row(zr, c, inner);
      double wtt = w ? double(w[t]) : 1.0;
      double l = -(1.0 - s.smoothing) * wtt * (double(zr[t * inner]) - row.mx - row.lse);
      if (s.smoothing > 0) {
        double acc = 0;
        for (int64_t k = 0; k < c; ++k)
          acc += (w ? double(w[k]) : 1.0) * (double(zr[k * inner]) - row.mx - row.lse);
        l -= s.smoothing / double(c) * acc;
      }
      loss[r] = T(l);
      wt[r] = T(wtt);
    }
  });
  (void)wsum;
}

template <typename T>
void backward(const CrossEntropySpec& s) {
  const T* z = static_cast<const T*>(s.logits);
  const T* w = static_cast<const T*>(s.weight);
  const T* g = static_cast<const T*>(s.grad);
  T* gz = static_cast<T*>(s.grad_in);
  const int64_t c = s.c, inner = s.inner;
  double wsum = 0;
  if (w) for (int64_t k = 0; k < c; ++k) wsum += double(w[k]);
  else wsum = double(c);
  const double e = s.smoothing;
  int64_t grain = std::max<int64_t>(1, kGrainSize / std::max<int64_t>(c, 1));
  parallel_for(0, s.n * inner, grain, [&](int64_t b, int64_t en) {
    for (int64_t r = b; r < en; ++r) {
      int64_t t = s.target[r];
      const int64_t base = (r / inner) * c * inner + r % inner;
      T* gr = gz + base;
      if (t == s.ignore_index) {
        for (int64_t k = 0; k < c; ++k) gr[k * inner] = T(0);
        continue;
      }
      const T* zr = z + base;
      Row<T> row = scan_row(zr, c, inner);
      double gs = double(g[r]);
      double wtt = w ? double(w[t]) : 1.0;
      double scale = (1.0 - e) * wtt + e * wsum / double(c);
      if constexpr (std::is_same_v<T, float>) {
        if (inner == 1) {
          const float shift = float(row.mx + row.lse), ec = float(e / double(c));
          grad_row_f(zr, c, shift, float(scale), ec, w, float(gs), gr);
          float pt = exp_f(zr[t] - shift);
          gr[t] = (pt * float(scale) - ec * (w ? w[t] : 1.0f) - float((1.0 - e) * wtt)) *
                  float(gs);
          continue;
        }
      }
      for (int64_t k = 0; k < c; ++k) {
        double p = std::exp(double(zr[k * inner]) - row.mx - row.lse);
        double v = p * scale - (e / double(c)) * (w ? double(w[k]) : 1.0);
        if (k == t) v -= (1.0 - e) * wtt;
        gr[k * inner] = T(v * gs);
      }
    }
  });
}

void ce_forward_cpu(const CrossEntropySpec& s) {
  if (s.dtype == DType::Float64) forward<double>(s);
  else forward<float>(s);
}
void ce_backward_cpu(const CrossEntropySpec& s) {
  if (s.dtype == DType::Float64) backward<double>(s);
  else backward<float>(s);
}

}  // namespace

void register_loss_cpu() {
  cross_entropy_forward_kernel.set(DeviceType::CPU, &ce_forward_cpu);
  cross_entropy_backward_kernel.set(DeviceType::CPU, &ce_backward_cpu);
}

}  // namespace ranvier::cpu
