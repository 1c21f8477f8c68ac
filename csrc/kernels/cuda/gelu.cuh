// gelu's per-element math for the CUDA kernel (gelu.cu), host-callable for the host-side test:
// forward gelu(x) and backward g * gelu'(x), exact (erf) and tanh forms. Same formulas as the
// CPU kernel (kernels/cpu/activation.cpp): exact gelu'(x) = Phi(x) + x phi(x); tanh form with
// u = k (x + c x^3) uses e = exp(-2|u|) so that 1 + tanh u and 1 - tanh^2 u do not cancel.
#pragma once
#include <cmath>

#include "kernels/common/macros.h"

namespace ranvier::cuda::gelu_math {

constexpr double kSqrtHalf = 0.70710678118654752440;     // 1 / sqrt(2)
constexpr double kInvSqrt2Pi = 0.39894228040143267794;   // 1 / sqrt(2 pi)
constexpr double kSqrt2OverPi = 0.79788456080286535588;  // sqrt(2 / pi)
constexpr double kGeluC = 0.044715;

template <typename T>
RV_HOST_DEVICE RV_INLINE void tanh_parts(T u, T& one_plus, T& one_minus_sq) {
  const T e = std::exp(T(-2) * std::fabs(u));
  const T inv = T(1) / (T(1) + e);
  one_plus = u >= T(0) ? T(2) * inv : T(2) * e * inv;
  one_minus_sq = T(4) * e * inv * inv;
}

template <typename T>
RV_HOST_DEVICE RV_INLINE T forward(bool tanh_form, T v) {
  if (tanh_form) {
    T onep, onem2;
    tanh_parts(T(kSqrt2OverPi) * (v + T(kGeluC) * v * v * v), onep, onem2);
    return T(0.5) * v * onep;
  }
  return T(0.5) * v * (T(1) + std::erf(v * T(kSqrtHalf)));
}

template <typename T>
RV_HOST_DEVICE RV_INLINE T backward(bool tanh_form, T g, T v) {
  if (tanh_form) {
    T onep, onem2;
    tanh_parts(T(kSqrt2OverPi) * (v + T(kGeluC) * v * v * v), onep, onem2);
    const T du = T(kSqrt2OverPi) * (T(1) + T(3.0 * kGeluC) * v * v);
    return g * (T(0.5) * onep + T(0.5) * v * onem2 * du);
  }
  const T cdf = T(0.5) * (T(1) + std::erf(v * T(kSqrtHalf)));
  const T pdf = std::exp(T(-0.5) * v * v) * T(kInvSqrt2Pi);
  return g * (cdf + v * pdf);
}

}  // namespace ranvier::cuda::gelu_math
