// CPU kernel of gelu's fused forward (out = gelu(x), with deriv = gelu'(x) when asked) and
// backward (out = g * gelu'(x)), one pass over contiguous float32 / float64 data. Exact form:
// gelu'(x) = Phi(x) + x phi(x); tanh form with u = k (x + c x^3):
// (1 + tanh u) / 2 + x (1 - tanh^2 u) k (1 + 3 c x^2) / 2. Float uses the branch-free math
// of fast_math.h so that the loop vectorises (the exact form's Phi from normal_tail_f); the
// exact form on AVX2 CPUs runs the intrinsics of gelu_avx2.cpp, the same steps.
#pragma GCC optimize("no-trapping-math")  // see kernels/cpu/fast_math.h
#include <cmath>
#include <type_traits>

#include "core/parallel.h"
#include "kernels/cpu/fast_math.h"
#include "kernels/cpu/gelu_avx2.h"
#include "ops/gelu_grad.h"

namespace ranvier::cpu {

namespace {

constexpr double kSqrtHalf = 0.70710678118654752440;     // 1 / sqrt(2)
constexpr double kInvSqrt2Pi = 0.39894228040143267794;   // 1 / sqrt(2 pi)
constexpr double kSqrt2OverPi = 0.79788456080286535588;  // sqrt(2 / pi)
constexpr double kGeluC = 0.044715;

RV_ALWAYS_INLINE double erf_t(double x) { return std::erf(x); }
RV_ALWAYS_INLINE double exp_t(double x) { return std::exp(x); }
RV_ALWAYS_INLINE float exp_t(float x) { return exp_f(x); }
// 1 + tanh(u) and 1 - tanh(u)^2 without cancellation where |tanh u| is near 1: with
// e = exp(-2|u|), 1 - tanh^2 = 4e / (1 + e)^2 and, for u < 0, 1 + tanh = 2e / (1 + e).
template <typename T>
RV_ALWAYS_INLINE void tanh_parts(T u, T& one_plus, T& one_minus_sq) {
  const T e = exp_t(T(-2) * std::fabs(u));
  const T inv = T(1) / (T(1) + e);
  one_plus = u >= T(0) ? T(2) * inv : T(2) * e * inv;
  one_minus_sq = T(4) * e * inv * inv;
}

// gelu(v) (y) and gelu'(v) (d) of one element; the compiler drops whichever is not used.
template <typename T, bool kTanh>
RV_ALWAYS_INLINE void gelu_parts(T v, T& y, T& d) {
  if constexpr (kTanh) {
    T onep, onem2;
    tanh_parts(T(kSqrt2OverPi) * (v + T(kGeluC) * v * v * v), onep, onem2);
    const T du = T(kSqrt2OverPi) * (T(1) + T(3.0 * kGeluC) * v * v);
    y = T(0.5) * v * onep;
    d = T(0.5) * onep + T(0.5) * v * onem2 * du;
  } else {
    T cdf, pdf;
    if constexpr (std::is_same_v<T, float>) {  // the tail's own e^{-v^2 / 2} is phi's
      float gauss;
      const float tail = normal_tail_f(v, gauss);
      cdf = v >= 0.0f ? 1.0f - tail : tail;
      pdf = gauss * float(kInvSqrt2Pi);
    } else {
      cdf = T(0.5) * (T(1) + erf_t(v * T(kSqrtHalf)));
      pdf = exp_t(T(-0.5) * v * v) * T(kInvSqrt2Pi);
    }
    y = v * cdf;
    d = cdf + v * pdf;
  }
}

// What a pass writes: out = gelu(x); out = gelu(x) and deriv = gelu'(x); out = g * gelu'(x).
enum class GeluPass { Forward, ForwardDeriv, Backward };

template <typename T, bool kTanh, GeluPass kPass>
RV_ALWAYS_INLINE void gelu_loop(const T* __restrict g, const T* __restrict x, T* __restrict out,
                                T* __restrict deriv, int64_t b, int64_t e) {
  for (int64_t i = b; i < e; ++i) {
    T y, d;
    gelu_parts<T, kTanh>(x[i], y, d);
    if constexpr (kPass == GeluPass::Backward) {
      out[i] = g[i] * d;
    } else {
      out[i] = y;
      if constexpr (kPass == GeluPass::ForwardDeriv) deriv[i] = d;
    }
  }
}

template <typename T>
RV_ALWAYS_INLINE void gelu_grad_range(bool tanh_form, bool forward, const T* g, const T* x,
                                      T* out, T* deriv, int64_t b, int64_t e) {
  auto run = [&](auto tanh) {
    constexpr bool kTanh = decltype(tanh)::value;
    if (!forward) gelu_loop<T, kTanh, GeluPass::Backward>(g, x, out, deriv, b, e);
    else if (deriv) gelu_loop<T, kTanh, GeluPass::ForwardDeriv>(g, x, out, deriv, b, e);
    else gelu_loop<T, kTanh, GeluPass::Forward>(g, x, out, deriv, b, e);
  };
  if (tanh_form) run(std::true_type{});
  else run(std::false_type{});
}

RV_MULTIVERSION void gelu_range_f(bool tanh_form, bool forward, const float* g, const float* x,
                                  float* out, float* deriv, int64_t b, int64_t e) {
  gelu_grad_range<float>(tanh_form, forward, g, x, out, deriv, b, e);
}

template <typename T>
void gelu_grad(const GeluGradSpec& s) {
  const T* __restrict g = static_cast<const T*>(s.grad);
  const T* __restrict x = static_cast<const T*>(s.x);
  T* __restrict out = static_cast<T*>(s.out);
  T* __restrict deriv = s.forward ? static_cast<T*>(s.deriv) : nullptr;
  // the exact form's float passes on AVX2 CPUs: intrinsics (gelu_avx2.cpp)
  const bool avx2 = std::is_same_v<T, float> && !s.tanh_form && gelu_avx2_usable();
  parallel_for(0, s.n, kGrainSize / 4, [&](int64_t b, int64_t e) {
    if constexpr (std::is_same_v<T, float>) {
      if (avx2) gelu_erf_avx2(s.forward, g, x, out, deriv, b, e);
      else gelu_range_f(s.tanh_form, s.forward, g, x, out, deriv, b, e);
    } else {
      gelu_grad_range<T>(s.tanh_form, s.forward, g, x, out, deriv, b, e);
    }
  });
}

void gelu_grad_cpu(const GeluGradSpec& s) {
  if (s.dtype == DType::Float64) gelu_grad<double>(s);
  else gelu_grad<float>(s);
}

}  // namespace

void register_activation_cpu() { gelu_backward_kernel.set(DeviceType::CPU, &gelu_grad_cpu); }

}  // namespace ranvier::cpu
