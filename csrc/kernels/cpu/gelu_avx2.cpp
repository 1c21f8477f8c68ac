// The exact-form gelu's forward (x Phi(x)) and backward (g (Phi(x) + x phi(x))) for float32 on
// AVX2 + FMA CPUs, written with intrinsics (activation.cpp picks it; Note [GELU on AVX2] in
// docs/design.md). GCC's vectorisation of activation.cpp's loop kept half its constants on the
// stack (16 ymm registers) and turned the clamps and the sign into compare-and-blend pairs.
//
// The steps of fast_math.h's normal_tail_f: with u = |x| / sqrt 2 and t = 1 / (1 + 0.3275911 u),
// h = p(t) t e^{-u^2} / 2 approximates Phi(-|x|) (p: erf_f's degree-5 polynomial, absolute error
// below 1e-7), so Phi(x) = 1 - h for x >= 0 and h below, without cancellation in the lower tail;
// phi(x) = e^{-u^2} / sqrt(2 pi) reuses the exponential, taken as 0 where u^2 > 87 (e^{-87}
// would leave denormal products). NaN stays NaN; gelu(+inf) = inf and gelu(-inf) = NaN (as
// x Phi(x) = -inf * 0), and the gradient at either infinity is NaN, as PyTorch's.

#include "kernels/cpu/gelu_avx2.h"

#include <immintrin.h>

#include "core/cpu_capability.h"
#include "kernels/cpu/exp_avx2.h"
#include "kernels/cpu/lane_mask_avx2.h"

namespace ranvier::cpu {

#define RV_AVX2 __attribute__((target("avx2,fma")))

namespace {

struct PhiParts {
  __m256 cdf;    // Phi(x)
  __m256 gauss;  // e^{-x^2 / 2}
};

RV_AVX2 inline PhiParts phi_parts(__m256 x) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 a =
      _mm256_andnot_ps(sign, _mm256_mul_ps(x, _mm256_set1_ps(0.70710678118654752f)));
  const __m256 t = _mm256_div_ps(one, _mm256_fmadd_ps(a, _mm256_set1_ps(0.3275911f), one));
  __m256 p = _mm256_set1_ps(1.061405429f);
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-1.453152027f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(1.421413741f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-0.284496736f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.254829592f));
  const __m256 na2 = _mm256_mul_ps(a, _mm256_xor_ps(a, sign));  // -u^2
  // e^{-u^2}, 0 past u^2 = 87 (the NaN compare is false: a NaN x keeps exp8's NaN)
  const __m256 far = _mm256_cmp_ps(na2, _mm256_set1_ps(-87.0f), _CMP_LT_OQ);
  const __m256 gauss = _mm256_andnot_ps(far, exp8(na2));
  const __m256 h =
      _mm256_mul_ps(_mm256_mul_ps(p, t), _mm256_mul_ps(gauss, _mm256_set1_ps(0.5f)));
  const __m256 nonneg = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GE_OQ);
  const __m256 cdf = _mm256_blendv_ps(h, _mm256_sub_ps(one, h), nonneg);
  return {cdf, gauss};
}

RV_AVX2 inline __m256 forward8(__m256 x) { return _mm256_mul_ps(x, phi_parts(x).cdf); }

// gelu'(x) = Phi(x) + x phi(x) from the parts
RV_AVX2 inline __m256 deriv8(__m256 x, const PhiParts& f) {
  const __m256 pdf = _mm256_mul_ps(f.gauss, _mm256_set1_ps(0.39894228040143267794f));
  return _mm256_fmadd_ps(x, pdf, f.cdf);
}

RV_AVX2 inline __m256 backward8(__m256 g, __m256 x) {
  return _mm256_mul_ps(g, deriv8(x, phi_parts(x)));
}

}  // namespace

bool gelu_avx2_usable() { return cpu_capability() == CpuCapability::Avx2; }

RV_AVX2 void gelu_erf_avx2(bool forward, const float* g, const float* x, float* out,
                           float* deriv, int64_t b, int64_t e) {
  int64_t i = b;
  if (forward && deriv) {
    for (; i + 8 <= e; i += 8) {
      const __m256 xv = _mm256_loadu_ps(x + i);
      const PhiParts f = phi_parts(xv);
      _mm256_storeu_ps(out + i, _mm256_mul_ps(xv, f.cdf));
      _mm256_storeu_ps(deriv + i, deriv8(xv, f));
    }
    if (i < e) {
      const __m256i m = lane_mask8(e - i);
      const __m256 xv = _mm256_maskload_ps(x + i, m);
      const PhiParts f = phi_parts(xv);
      store_first(out + i, _mm256_mul_ps(xv, f.cdf), e - i);
      store_first(deriv + i, deriv8(xv, f), e - i);
    }
    return;
  }
  if (forward) {
    for (; i + 8 <= e; i += 8) _mm256_storeu_ps(out + i, forward8(_mm256_loadu_ps(x + i)));
  } else {
    for (; i + 8 <= e; i += 8)
      _mm256_storeu_ps(out + i, backward8(_mm256_loadu_ps(g + i), _mm256_loadu_ps(x + i)));
  }
  if (i < e) {  // the last 1-7 floats under a mask
    const __m256i m = lane_mask8(e - i);
    const __m256 xv = _mm256_maskload_ps(x + i, m);
    const __m256 r = forward ? forward8(xv) : backward8(_mm256_maskload_ps(g + i, m), xv);
    store_first(out + i, r, e - i);
  }
}

#undef RV_AVX2

}  // namespace ranvier::cpu
