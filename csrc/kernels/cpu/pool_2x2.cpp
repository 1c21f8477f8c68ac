// The vector float paths of the 2x2 / stride 2 max pool (see pool_2x2.h). AVX-512: 16 outputs
// per step, the even and odd input columns of the two rows separated by permutes, masked loads
// and stores at the row ends. AVX2: 8 outputs per step (below). Compiled for their ISA through
// function attributes; the caller picks one from cpu_capability() (Note [CPU capability]).
#include "kernels/cpu/pool_2x2.h"
#include "core/cpu_capability.h"

// GCC 12 warns about its own intrinsics headers (an undefined register used as a blend source).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

namespace ranvier::cpu {

int max_pool_2x2_simd_level() {
  return cpu_uses_avx512() ? 2 : cpu_uses_avx2() ? 1 : 0;
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

// The AVX2 copy: 8 outputs per step. The two 8-float halves of each input row's 16 columns are
// split into even and odd columns by one in-lane shuffle each, which leaves the outputs in
// the order 0 1 4 5 2 3 6 7; the comparisons do not care, and one cross-lane permute of the
// result (values and int32 indices) restores the order before the stores. A step with fewer
// than 8 outputs (the row's end) loads and stores under masks, so nothing past the row is
// read or written.
namespace {

#define RV_AVX2 __attribute__((target("avx2,fma")))

// All-ones in the 32-bit lanes [0, n) (n <= 0: none, n >= 8: all).
RV_AVX2 inline __m256i lanes32(int64_t n) {
  const int32_t c = int32_t(n < 0 ? 0 : (n > 8 ? 8 : n));
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(c), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
// All-ones in the 64-bit lanes [0, n).
RV_AVX2 inline __m256i lanes64(int64_t n) {
  const int64_t c = n < 0 ? 0 : (n > 4 ? 4 : n);
  return _mm256_cmpgt_epi64(_mm256_set1_epi64x(c), _mm256_setr_epi64x(0, 1, 2, 3));
}

// Takes v where it beats the best so far (greater, or NaN: the later NaN wins), with index vi.
RV_AVX2 inline void take(__m256 v, __m256i vi, __m256& bv, __m256i& bi) {
  const __m256 t =
      _mm256_or_ps(_mm256_cmp_ps(v, bv, _CMP_GT_OQ), _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
  bv = _mm256_blendv_ps(bv, v, t);
  bi = _mm256_castps_si256(
      _mm256_blendv_ps(_mm256_castsi256_ps(bi), _mm256_castsi256_ps(vi), t));
}

}  // namespace

RV_AVX2 void max_pool_2x2_avx2(const float* x, int64_t w, int64_t oh, int64_t ow, float* o,
                               int64_t* ix) {
  // 2 * the output position each lane holds after the even / odd shuffles
  const __m256i lane2 = _mm256_setr_epi32(0, 2, 8, 10, 4, 6, 12, 14);
  const __m256i one = _mm256_set1_epi32(1), wv = _mm256_set1_epi32(int32_t(w));
  for (int64_t i = 0; i < oh; ++i) {
    const float* r0 = x + 2 * i * w;
    const float* r1 = r0 + w;
    for (int64_t j = 0; j < ow; j += 8) {
      const int64_t n = ow - j;  // outputs left in the row (a full step when >= 8)
      const int64_t c = 2 * j;
      __m256 a_lo, a_hi, b_lo, b_hi;
      if (n >= 8) {
        a_lo = _mm256_loadu_ps(r0 + c);
        a_hi = _mm256_loadu_ps(r0 + c + 8);
        b_lo = _mm256_loadu_ps(r1 + c);
        b_hi = _mm256_loadu_ps(r1 + c + 8);
      } else {
        const __m256i mlo = lanes32(2 * n), mhi = lanes32(2 * n - 8);
        a_lo = _mm256_maskload_ps(r0 + c, mlo);
        a_hi = _mm256_maskload_ps(r0 + c + 8, mhi);
        b_lo = _mm256_maskload_ps(r1 + c, mlo);
        b_hi = _mm256_maskload_ps(r1 + c + 8, mhi);
      }
      const __m256 v0 = _mm256_shuffle_ps(a_lo, a_hi, _MM_SHUFFLE(2, 0, 2, 0));
      const __m256 v1 = _mm256_shuffle_ps(a_lo, a_hi, _MM_SHUFFLE(3, 1, 3, 1));
      const __m256 v2 = _mm256_shuffle_ps(b_lo, b_hi, _MM_SHUFFLE(2, 0, 2, 0));
      const __m256 v3 = _mm256_shuffle_ps(b_lo, b_hi, _MM_SHUFFLE(3, 1, 3, 1));
      const __m256i off0 = _mm256_add_epi32(_mm256_set1_epi32(int32_t(2 * i * w + c)), lane2);
      const __m256i off2 = _mm256_add_epi32(off0, wv);
      __m256 bv = v0;
      __m256i bi = off0;
      take(v1, _mm256_add_epi32(off0, one), bv, bi);
      take(v2, off2, bv, bi);
      take(v3, _mm256_add_epi32(off2, one), bv, bi);
      // 64-bit pairs (0 1)(4 5)(2 3)(6 7) -> (0 1)(2 3)(4 5)(6 7)
      bv = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(bv), _MM_SHUFFLE(3, 1, 2, 0)));
      bi = _mm256_permute4x64_epi64(bi, _MM_SHUFFLE(3, 1, 2, 0));
      const __m256i i_lo = _mm256_cvtepi32_epi64(_mm256_castsi256_si128(bi));
      const __m256i i_hi = _mm256_cvtepi32_epi64(_mm256_extracti128_si256(bi, 1));
      float* od = o ? o + i * ow + j : nullptr;
      long long* id = reinterpret_cast<long long*>(ix + i * ow + j);
      if (n >= 8) {
        if (od) _mm256_storeu_ps(od, bv);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(id), i_lo);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(id + 4), i_hi);
      } else {
        if (od) _mm256_maskstore_ps(od, lanes32(n), bv);
        _mm256_maskstore_epi64(id, lanes64(n), i_lo);
        _mm256_maskstore_epi64(id + 4, lanes64(n - 4), i_hi);
      }
    }
  }
}

#undef RV_AVX2

}  // namespace ranvier::cpu
