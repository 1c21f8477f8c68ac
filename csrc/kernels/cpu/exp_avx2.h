// e^x in eight float lanes (AVX2 + FMA), for the hand-written AVX2 kernels: fast_math.h's exp_f
// with the argument clamped to [-87, 88], x = n ln 2 + r (n rounded by the 1.5 * 2^23 trick,
// ln 2 in two parts), a degree-6 polynomial for e^r and 2^n from the exponent bits (about 2
// ulp). The AVX-512 attention rows use the same steps at twice the width, so the two give the
// same floats.
#pragma once
#include <immintrin.h>

namespace ranvier::cpu {

__attribute__((target("avx2,fma"))) inline __m256 exp8(__m256 x) {
  // max / min with the constant first keep a NaN argument (vmaxps returns its second operand
  // when either is NaN)
  x = _mm256_min_ps(_mm256_set1_ps(88.0f), _mm256_max_ps(_mm256_set1_ps(-87.0f), x));
  const __m256 shifter = _mm256_set1_ps(12582912.0f);
  const __m256 n =
      _mm256_sub_ps(_mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f), shifter), shifter);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fmadd_ps(n, _mm256_set1_ps(2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  const __m256 e =
      _mm256_add_ps(_mm256_fmadd_ps(_mm256_mul_ps(p, r), r, r), _mm256_set1_ps(1.0f));
  const __m256i bits =
      _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvttps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(e, _mm256_castsi256_ps(bits));
}

}  // namespace ranvier::cpu
