// AVX-512 float path of the 2x2 / stride 2 max pool (see pool_2x2.h): 16 outputs per step,
// the even and odd input columns of the two rows separated by permutes, masked loads and
// stores at the row ends. Compiled for AVX-512 through a function attribute; the caller checks
// the CPU first.
#include "kernels/cpu/pool_2x2.h"
#include "core/cpu_capability.h"

// GCC 12 warns about its own intrinsics headers (an undefined register used as a blend source).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

namespace ranvier::cpu {

bool max_pool_2x2_has_avx512() {
  return cpu_uses_avx512();
}

__attribute__((target("avx512f"))) void max_pool_2x2_avx512(const float* x, int64_t w,
                                                            int64_t oh, int64_t ow, float* o,
                                                            int64_t* ix) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28,
                                         30);
  const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
  const __m512i lane2 = _mm512_slli_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
                                                            11, 12, 13, 14, 15), 1);
  const __m512i one = _mm512_set1_epi32(1), wv = _mm512_set1_epi32(int32_t(w));
  for (int64_t i = 0; i < oh; ++i) {
    const float* r0 = x + 2 * i * w;
    const float* r1 = r0 + w;
    for (int64_t j = 0; j < ow; j += 16) {
      const int64_t n = ow - j < 16 ? ow - j : 16;  // outputs in this step
      const __mmask16 mo = __mmask16((1u << n) - 1u);
      const int64_t nin = 2 * n;  // inputs per row
      const __mmask16 mlo = __mmask16(nin >= 16 ? 0xFFFFu : (1u << nin) - 1u);
      const __mmask16 mhi =
          __mmask16(nin <= 16 ? 0u : (nin >= 32 ? 0xFFFFu : (1u << (nin - 16)) - 1u));
      const int64_t c = 2 * j;
      const __m512 a_lo = _mm512_maskz_loadu_ps(mlo, r0 + c);
      const __m512 a_hi = _mm512_maskz_loadu_ps(mhi, r0 + c + 16);
      const __m512 b_lo = _mm512_maskz_loadu_ps(mlo, r1 + c);
      const __m512 b_hi = _mm512_maskz_loadu_ps(mhi, r1 + c + 16);
      const __m512 v0 = _mm512_permutex2var_ps(a_lo, even, a_hi);
      const __m512 v1 = _mm512_permutex2var_ps(a_lo, odd, a_hi);
      const __m512 v2 = _mm512_permutex2var_ps(b_lo, even, b_hi);
      const __m512 v3 = _mm512_permutex2var_ps(b_lo, odd, b_hi);
      const __m512i off0 = _mm512_add_epi32(_mm512_set1_epi32(int32_t(2 * i * w + c)), lane2);
      __m512 bv = v0;
      __m512i bi = off0;
      __mmask16 t = _mm512_cmp_ps_mask(v1, bv, _CMP_GT_OQ) |
                    _mm512_cmp_ps_mask(v1, v1, _CMP_UNORD_Q);
      bv = _mm512_mask_mov_ps(bv, t, v1);
      bi = _mm512_mask_mov_epi32(bi, t, _mm512_add_epi32(off0, one));
      t = _mm512_cmp_ps_mask(v2, bv, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v2, v2, _CMP_UNORD_Q);
      bv = _mm512_mask_mov_ps(bv, t, v2);
      bi = _mm512_mask_mov_epi32(bi, t, _mm512_add_epi32(off0, wv));
      t = _mm512_cmp_ps_mask(v3, bv, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v3, v3, _CMP_UNORD_Q);
      bv = _mm512_mask_mov_ps(bv, t, v3);
      bi = _mm512_mask_mov_epi32(bi, t, _mm512_add_epi32(_mm512_add_epi32(off0, wv), one));
      if (o) _mm512_mask_storeu_ps(o + i * ow + j, mo, bv);
      int64_t* dst = ix + i * ow + j;
      _mm512_mask_storeu_epi64(dst, __mmask8(mo & 0xFF),
                               _mm512_cvtepi32_epi64(_mm512_castsi512_si256(bi)));
      _mm512_mask_storeu_epi64(dst + 8, __mmask8(mo >> 8),
                               _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(bi, 1)));
    }
  }
}

}  // namespace ranvier::cpu
