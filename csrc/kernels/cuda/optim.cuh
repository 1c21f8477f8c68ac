// The CUDA optimizer steps' per-element math (optim.cu), host-callable for the host-side test.
// The formulas and their order are the CPU kernel's (kernels/cpu/optim.cpp), and every + - * /
// goes through Rn<T>, which on the device uses the round-to-nearest intrinsics (__fmul_rn,
// __dadd_rn, ...): nvcc then cannot fuse a multiply and an add into one FMA, so each
// operation rounds exactly as on the CPU (sqrt is correctly rounded on both). The steps are
// therefore bitwise the CPU's, float32 and float64.
#pragma once
#include <cmath>
#include <cstdint>

#include "cuda/rounded.cuh"
#include "kernels/common/macros.h"

namespace ranvier::cuda::optim_math {

template <typename T>
struct Rn {
  T v;
};
template <typename T> RV_HOST_DEVICE RV_INLINE Rn<T> operator+(Rn<T> a, Rn<T> b) { return {rn_add(a.v, b.v)}; }
template <typename T> RV_HOST_DEVICE RV_INLINE Rn<T> operator-(Rn<T> a, Rn<T> b) { return {rn_sub(a.v, b.v)}; }
template <typename T> RV_HOST_DEVICE RV_INLINE Rn<T> operator*(Rn<T> a, Rn<T> b) { return {rn_mul(a.v, b.v)}; }
template <typename T> RV_HOST_DEVICE RV_INLINE Rn<T> operator/(Rn<T> a, Rn<T> b) { return {rn_div(a.v, b.v)}; }
template <typename T> RV_HOST_DEVICE RV_INLINE Rn<T> operator-(Rn<T> a) { return {-a.v}; }
template <typename T> RV_HOST_DEVICE RV_INLINE Rn<T> sqrt(Rn<T> a) { return {rn_sqrt(a.v)}; }
template <typename T> RV_HOST_DEVICE RV_INLINE Rn<T> abs(Rn<T> a) { return {std::fabs(a.v)}; }
template <typename T> RV_HOST_DEVICE RV_INLINE bool isnan(Rn<T> a) { return a.v != a.v; }
// std::max's rule: a unless b is larger.
template <typename T> RV_HOST_DEVICE RV_INLINE Rn<T> max(Rn<T> a, Rn<T> b) { return a.v < b.v ? b : a; }

// start + w (end - start), computed from the nearer end (the CPU kernel's lerp).
template <typename T>
RV_HOST_DEVICE RV_INLINE Rn<T> lerp(Rn<T> a, Rn<T> b, Rn<T> w) {
  const T aw = w.v < T(0) ? -w.v : w.v;
  return aw < T(0.5) ? a + w * (b - a) : b - (b - a) * (Rn<T>{T(1)} - w);
}

// One tensor of a step: its buffers (state may be null), its per-tensor factors and flag.
struct OptimTensor {
  void* p = nullptr;
  const void* g = nullptr;
  void* s[3] = {nullptr, nullptr, nullptr};
  double coef[3] = {0, 0, 0};
  bool flag = false;
  int64_t n = 0;
};
// The group's hyper-parameters (OptimSpec::h and ::b).
struct OptimGroup {
  double h[6] = {0, 0, 0, 0, 0, 0};
  bool b[3] = {false, false, false};
};

template <typename T> RV_HOST_DEVICE RV_INLINE Rn<T> ld(const void* p, int64_t j) {
  return {static_cast<const T*>(p)[j]};
}
template <typename T> RV_HOST_DEVICE RV_INLINE void st(void* p, int64_t j, Rn<T> v) {
  static_cast<T*>(p)[j] = v.v;
}
template <typename T> RV_HOST_DEVICE RV_INLINE Rn<T> c(double x) { return {T(x)}; }

// Adam / NAdam / RAdam's shared part (h[0] lr, h[1] beta1, h[2] beta2, h[4] weight decay;
// b[1] maximize, b[2] decoupled): sign, weight decay, both moments (written back).
template <typename T>
RV_HOST_DEVICE RV_INLINE void adam_moments(const OptimGroup& k, const OptimTensor& t, int64_t j,
                                           Rn<T>& g, Rn<T>& p, Rn<T>& m, Rn<T>& v) {
  g = ld<T>(t.g, j);
  if (k.b[1]) g = -g;
  p = ld<T>(t.p, j);
  if (k.h[4] != 0.0) {
    if (k.b[2]) p = p * c<T>(rn_sub(1.0, rn_mul(k.h[0], k.h[4])));
    else g = g + c<T>(k.h[4]) * p;
  }
  m = lerp(ld<T>(t.s[0], j), g, c<T>(1.0 - k.h[1]));
  v = ld<T>(t.s[1], j) * c<T>(k.h[2]) + c<T>(1.0 - k.h[2]) * g * g;
  st(t.s[0], j, m);
  st(t.s[1], j, v);
}

template <typename T>
RV_HOST_DEVICE void sgd(const OptimGroup& k, const OptimTensor& t, int64_t j) {
  Rn<T> g = ld<T>(t.g, j);
  if (k.b[1]) g = -g;
  if (k.h[3] != 0.0) g = g + c<T>(k.h[3]) * ld<T>(t.p, j);
  if (k.b[2]) {
    const Rn<T> mom = c<T>(k.h[1]);
    const Rn<T> buf = t.flag ? g : ld<T>(t.s[0], j) * mom + c<T>(1.0 - k.h[2]) * g;
    st(t.s[0], j, buf);
    g = k.b[0] ? g + mom * buf : buf;
  }
  st(t.p, j, ld<T>(t.p, j) + (-c<T>(k.h[0])) * g);
}

template <typename T>
RV_HOST_DEVICE void adam(const OptimGroup& k, const OptimTensor& t, int64_t j) {
  Rn<T> g, p, m, v;
  adam_moments(k, t, j, g, p, m, v);
  if (k.b[0]) {
    v = max(ld<T>(t.s[2], j), v);
    st(t.s[2], j, v);
  }
  const Rn<T> denom = sqrt(v) / c<T>(t.coef[1]) + c<T>(k.h[3]);
  st(t.p, j, p + c<T>(-t.coef[0]) * (m / denom));
}

template <typename T>
RV_HOST_DEVICE void rmsprop(const OptimGroup& k, const OptimTensor& t, int64_t j) {
  Rn<T> g = ld<T>(t.g, j);
  if (k.b[1]) g = -g;
  if (k.h[3] != 0.0) g = g + c<T>(k.h[3]) * ld<T>(t.p, j);
  const Rn<T> aw = c<T>(1.0 - k.h[1]);
  const Rn<T> sq = ld<T>(t.s[0], j) * c<T>(k.h[1]) + aw * g * g;
  st(t.s[0], j, sq);
  Rn<T> avg;
  if (k.b[0]) {
    const Rn<T> ga = lerp(ld<T>(t.s[1], j), g, aw);
    st(t.s[1], j, ga);
    avg = sqrt(sq + c<T>(-1) * ga * ga);
  } else {
    avg = sqrt(sq);
  }
  avg = avg + c<T>(k.h[2]);
  const Rn<T> neg_lr = -c<T>(k.h[0]);
  if (k.b[2]) {
    const Rn<T> buf = ld<T>(t.s[2], j) * c<T>(k.h[4]) + g / avg;
    st(t.s[2], j, buf);
    st(t.p, j, ld<T>(t.p, j) + neg_lr * buf);
  } else {
    st(t.p, j, ld<T>(t.p, j) + neg_lr * (g / avg));
  }
}

template <typename T>
RV_HOST_DEVICE void adagrad(const OptimGroup& k, const OptimTensor& t, int64_t j) {
  Rn<T> g = ld<T>(t.g, j);
  if (k.b[1]) g = -g;
  if (k.h[0] != 0.0) g = g + c<T>(k.h[0]) * ld<T>(t.p, j);
  const Rn<T> sum = ld<T>(t.s[0], j) + g * g;
  st(t.s[0], j, sum);
  const Rn<T> sd = sqrt(sum) + c<T>(k.h[1]);
  st(t.p, j, ld<T>(t.p, j) + c<T>(-t.coef[0]) * (g / sd));
}

template <typename T>
RV_HOST_DEVICE void adadelta(const OptimGroup& k, const OptimTensor& t, int64_t j) {
  Rn<T> g = ld<T>(t.g, j);
  if (k.b[1]) g = -g;
  if (k.h[3] != 0.0) g = g + c<T>(k.h[3]) * ld<T>(t.p, j);
  const Rn<T> rho = c<T>(k.h[1]), rw = c<T>(1.0 - k.h[1]), eps = c<T>(k.h[2]);
  const Rn<T> sq = ld<T>(t.s[0], j) * rho + rw * g * g;
  st(t.s[0], j, sq);
  const Rn<T> sd = sqrt(sq + eps);
  const Rn<T> delta = sqrt(ld<T>(t.s[1], j) + eps) / sd * g;
  st(t.s[1], j, ld<T>(t.s[1], j) * rho + rw * delta * delta);
  st(t.p, j, ld<T>(t.p, j) + (-c<T>(k.h[0])) * delta);
}

template <typename T>
RV_HOST_DEVICE void adamax(const OptimGroup& k, const OptimTensor& t, int64_t j) {
  Rn<T> g = ld<T>(t.g, j);
  if (k.b[1]) g = -g;
  if (k.h[3] != 0.0) g = g + c<T>(k.h[3]) * ld<T>(t.p, j);
  const Rn<T> m = lerp(ld<T>(t.s[0], j), g, c<T>(1.0 - k.h[0]));
  st(t.s[0], j, m);
  const Rn<T> a = ld<T>(t.s[1], j) * c<T>(k.h[1]), b = abs(g) + c<T>(k.h[2]);
  const Rn<T> u = (isnan(a) || a.v > b.v) ? a : b;  // maximum, NaN-propagating
  st(t.s[1], j, u);
  st(t.p, j, ld<T>(t.p, j) + c<T>(-t.coef[0]) * (m / u));
}

template <typename T>
RV_HOST_DEVICE void nadam(const OptimGroup& k, const OptimTensor& t, int64_t j) {
  Rn<T> g, p, m, v;
  adam_moments(k, t, j, g, p, m, v);
  const Rn<T> denom = sqrt(v / c<T>(t.coef[0])) + c<T>(k.h[3]);
  p = p + c<T>(t.coef[1]) * (g / denom);
  st(t.p, j, p + c<T>(t.coef[2]) * (m / denom));
}

template <typename T>
RV_HOST_DEVICE void radam(const OptimGroup& k, const OptimTensor& t, int64_t j) {
  Rn<T> g, p, m, v;
  adam_moments(k, t, j, g, p, m, v);
  Rn<T> upd = m / c<T>(t.coef[0]) * c<T>(k.h[0]);
  if (t.coef[2] > 0.0) upd = upd * (c<T>(t.coef[1]) / (sqrt(v) + c<T>(k.h[3]))) * c<T>(t.coef[2]);
  st(t.p, j, p - upd);
}

}  // namespace ranvier::cuda::optim_math
