// Branch-free float exp / sigmoid / tanh / erf for the fused CPU kernels (rnn, activation):
// written so that loops calling them vectorise. Note [Fast float math]: exp_f uses a
// Cody-Waite reduction by ln 2 and a degree-6 polynomial (about 2 ulp over [-87, 88], inputs
// clamped there); tanh_f = 1 - 2 / (exp(2x) + 1) (absolute error ~1e-7); erf_f is a rational
// approximation with absolute error below 2e-7. Double callers use libm. The user-facing
// elementwise ops use vec_math.h instead, which keeps libm's results at the edges.
// A file using these starts with `#pragma GCC optimize("no-trapping-math")` (lets GCC
// turn the clamps and sign selects into vector blends) and marks its float loops
// RV_MULTIVERSION (AVX-512, AVX2 and baseline copies picked at load time).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#define RV_ALWAYS_INLINE inline __attribute__((always_inline))
#define RV_MULTIVERSION \
  __attribute__((noinline, target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))

namespace ranvier::cpu {

// e^r for |r| <= ln 2 / 2 once x = n ln 2 + r is split off: n = round(x / ln 2) (the 1.5 * 2^23
// trick), r with ln 2 in two parts, then a degree-6 polynomial.
RV_ALWAYS_INLINE float exp_reduced(float x, float& n) {
  n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  const float r = (x - n * 0.693359375f) + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  return (p * r * r + r) + 1.0f;
}

RV_ALWAYS_INLINE float exp_f(float x) {
  x = std::min(std::max(x, -87.0f), 88.0f);
  float n;
  const float e = exp_reduced(x, n);
  const int32_t bits = (int32_t(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  return e * scale;
}

RV_ALWAYS_INLINE float sigmoid_f(float x) { return 1.0f / (1.0f + exp_f(-x)); }

RV_ALWAYS_INLINE float tanh_f(float x) { return 1.0f - 2.0f / (exp_f(2.0f * x) + 1.0f); }

// erfc(a) e^{a^2} for a >= 0 by a five-term fit: poly(t) t with t = 1 / (1 + 0.3275911 a)
// (erfc's absolute error below 1.5e-7 once multiplied by e^{-a^2}).
RV_ALWAYS_INLINE float erfc_scaled_f(float a) {
  const float t = 1.0f / (1.0f + 0.3275911f * a);
  float p = 1.061405429f;
  p = p * t - 1.453152027f;
  p = p * t + 1.421413741f;
  p = p * t - 0.284496736f;
  p = p * t + 0.254829592f;
  return p * t;
}

// erf(x) = sign(x) (1 - erfc_scaled(|x|) e^{-x^2}).
RV_ALWAYS_INLINE float erf_f(float x) {
  const float ax = std::fabs(x);
  const float y = 1.0f - erfc_scaled_f(ax) * exp_f(-ax * ax);
  return std::copysign(y, x);
}

// Phi(-|x|) (the standard normal's lower tail) = erfc(|x| / sqrt 2) / 2 by the same fit, with
// gauss = e^{-x^2 / 2}, taken as 0 where x^2 / 2 > 87 (e^{-87} would leave denormal products).
// Phi(x) is 1 - tail for x >= 0 and the tail below, without the cancellation of
// 0.5 (1 + erf(x / sqrt 2)), which rounded Phi to 0 past x = -5.4: the tail keeps the fit's
// error (about 1e-7 absolute; 1.6e-3 relative at x = -5, 3% at -12). gelu_avx2.cpp has the
// same steps.
RV_ALWAYS_INLINE float normal_tail_f(float x, float& gauss) {
  const float a = std::fabs(x) * 0.70710678118654752f;
  const float na2 = -(a * a);
  gauss = na2 < -87.0f ? 0.0f : exp_f(na2);
  return erfc_scaled_f(a) * (gauss * 0.5f);
}

}  // namespace ranvier::cpu
