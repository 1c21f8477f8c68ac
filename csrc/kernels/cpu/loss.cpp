// CPU cross_entropy kernels (see ops/loss.h). For one sample with log-probabilities lp,
// target t, class weights w (sum W) and smoothing e:
//   loss = -(1 - e) w_t lp_t - (e / C) sum_c w_c lp_c
//   dloss/dz_j = p_j ((1 - e) w_t + e W / C) - (1 - e) w_t [j == t] - (e / C) w_j
// Ignored samples give 0. A target out of [0, C) raises IndexError.
#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"
#include "core/parallel.h"
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
