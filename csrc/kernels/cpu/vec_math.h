// Float32 elementary functions for the CPU's user-facing elementwise ops (exp, log, tanh,
// sigmoid, erf, ...): branch-free, so that a loop over them vectorises at every SIMD level, and
// with libm's results at the edges (inf, NaN, 0, overflow to inf, gradual underflow, signed
// zero). Accuracy against float64 references: a few ulp (tests/test_unary_vec_math.py).
//
// They differ from fast_math.h's helpers, which serve fused kernels (GELU, LSTM gates,
// attention, cross-entropy) and clamp their arguments instead of handling the edges.
// Files using them build with -fno-trapping-math -fno-math-errno (the selects become blends).
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "kernels/cpu/fast_math.h"

namespace ranvier::cpu::vm {

RV_ALWAYS_INLINE float from_bits(int32_t b) {
  float f;
  std::memcpy(&f, &b, sizeof(f));
  return f;
}
RV_ALWAYS_INLINE int32_t to_bits(float f) {
  int32_t b;
  std::memcpy(&b, &f, sizeof(b));
  return b;
}

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// exp(x) = 2^n e^r (fast_math.h's exp_reduced). 2^n is applied as two factors so that
// results down to the smallest subnormal come out right; above ln(FLT_MAX) the result is inf.
RV_ALWAYS_INLINE float exp(float x) {
  float n;
  const float e = cpu::exp_reduced(std::min(std::max(x, -104.0f), 89.0f), n);
  const int32_t ni = int32_t(n);
  const int32_t n1 = ni >> 1, n2 = ni - n1;  // each within a normal float's exponent range
  float y = e * from_bits((n1 + 127) << 23) * from_bits((n2 + 127) << 23);
  y = x > 88.72283935f ? kInf : y;
  y = x < -103.9720840f ? 0.0f : y;  // below half the smallest subnormal
  return x != x ? x : y;
}

// log(x) = k ln 2 + log(m), m in [sqrt(1/2), sqrt(2)); log(1 + f) = f - f^2 / 2 + f^3 P(f)
// (Cephes' logf polynomial). Subnormal inputs are scaled by 2^23 first.
RV_ALWAYS_INLINE float log(float x) {
  const bool sub = x < 1.17549435e-38f;
  const float xs = sub ? x * 8388608.0f : x;
  const int32_t bits = to_bits(xs);
  float k = float(((bits >> 23) & 0xff) - 126) - (sub ? 23.0f : 0.0f);
  float m = from_bits((bits & 0x007fffff) | 0x3f000000);  // [0.5, 1)
  const bool low = m < 0.70710678f;
  k = low ? k - 1.0f : k;
  const float f = (low ? m + m : m) - 1.0f;
  const float z = f * f;
  float p = 7.0376836292e-2f;
  p = p * f - 1.1514610310e-1f;
  p = p * f + 1.1676998740e-1f;
  p = p * f - 1.2420140846e-1f;
  p = p * f + 1.4249322787e-1f;
  p = p * f - 1.6668057665e-1f;
  p = p * f + 2.0000714765e-1f;
  p = p * f - 2.4999993993e-1f;
  p = p * f + 3.3333331174e-1f;
  float y = f * z * p + k * -2.12194440e-4f;
  y = (f + (y - 0.5f * z)) + k * 0.693359375f;
  y = x == kInf ? kInf : y;
  y = x == 0.0f ? -kInf : y;
  y = x < 0.0f ? kNaN : y;
  return x != x ? x : y;
}

// log1p(u) = log(w) u / (w - 1) with w = 1 + u rounded: the factor cancels w's rounding error.
RV_ALWAYS_INLINE float log1p(float u) {
  const float w = 1.0f + u;
  const float d = w - 1.0f;
  const float y = d == 0.0f ? u : vm::log(w) * (u / d);
  return u == kInf ? kInf : y;
}

// expm1: a degree-8 Taylor polynomial below |x| = 0.5 (truncation < 1e-8 relative), e^x - 1
// above it (a few ulp: e^x >= 0.6 there).
RV_ALWAYS_INLINE float expm1(float x) {
  float p = 1.0f / 40320.0f;
  p = p * x + 1.0f / 5040.0f;
  p = p * x + 1.0f / 720.0f;
  p = p * x + 1.0f / 120.0f;
  p = p * x + 1.0f / 24.0f;
  p = p * x + 1.0f / 6.0f;
  p = p * x + 0.5f;
  const float small = std::copysign(x + x * x * p, x);  // keeps -0
  return std::fabs(x) < 0.5f ? small : vm::exp(x) - 1.0f;
}

// sigmoid from e = e^{-|x|}, which cannot overflow: 1 / (1 + e) for x >= 0, e / (1 + e) below,
// so that far negative inputs keep their (tiny) value instead of flushing to 0.
RV_ALWAYS_INLINE float sigmoid(float x) {
  const float e = vm::exp(-std::fabs(x));
  const float r = 1.0f / (1.0f + e);
  return x >= 0.0f ? r : e * r;
}

// tanh: an odd polynomial below |x| = 0.625 (Cephes' tanhf), 1 - 2 / (e^{2|x|} + 1) above.
RV_ALWAYS_INLINE float tanh(float x) {
  const float ax = std::fabs(x);
  const float z = x * x;
  float p = -5.70498872745e-3f;
  p = p * z + 2.06390887954e-2f;
  p = p * z - 5.37397155531e-2f;
  p = p * z + 1.33314422036e-1f;
  p = p * z - 3.33332819422e-1f;
  const float small = std::copysign(ax + ax * z * p, x);  // keeps -0
  const float big = std::copysign(1.0f - 2.0f / (vm::exp(2.0f * ax) + 1.0f), x);
  return ax < 0.625f ? small : big;
}

// erf: x P(x^2) below |x| = 1 (a degree-5 least-squares fit, relative error < 2e-7), above it
// 1 - t Q(t) e^{-x^2}, t = 1 / (1 + 0.3275911 |x|) (Abramowitz and Stegun 7.1.26, absolute
// error < 1.5e-7).
RV_ALWAYS_INLINE float erf(float x) {
  const float z = x * x;
  float p = -5.654108827e-4f;
  p = p * z + 4.923280794e-3f;
  p = p * z - 2.671639062e-2f;
  p = p * z + 1.128036454e-1f;
  p = p * z - 3.761234879e-1f;
  p = p * z + 1.128379107f;
  const float small = x * p;
  return std::fabs(x) < 1.0f ? small : cpu::erf_f(x);
}

}  // namespace ranvier::cpu::vm
