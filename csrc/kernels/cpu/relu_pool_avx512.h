// AVX-512 pieces of the fused conv -> relu -> 2x2 max pool (Note [Fused patterns]), shared by
// the one-channel direct kernels and the Winograd output transform. The window's taps are
// numbered row-major (0 = top left, 3 = bottom right); a pooled element's code is the tap its
// maximum came from when that maximum is positive, else 4 (no gradient reaches the conv).
// Only for functions compiled with the same target (AVX-512 F, BW and VL).
#pragma once
#include <immintrin.h>

#include <cstdint>

namespace ranvier::cpu::relu_pool {

#define RV_RELU_POOL_TARGET __attribute__((target("avx512f,avx512bw,avx512vl")))

// relu as x > 0 ? x : 0 (NaN and -0 give +0): max_ps returns its second operand when either
// is NaN or both are zeros.
RV_RELU_POOL_TARGET inline __m512 relu(__m512 x) { return _mm512_max_ps(x, _mm512_setzero_ps()); }

// The max of four relu'd taps per lane with the pool's semantics: pairwise strict comparisons
// keep the first maximum in tap order (relu has removed NaN).
RV_RELU_POOL_TARGET inline void pool4(__m512 t0, __m512 t1, __m512 t2, __m512 t3, __m512& best,
                                      __m512i& code) {
  const __m512 zero = _mm512_setzero_ps();
  const __mmask16 k01 = _mm512_cmp_ps_mask(t1, t0, _CMP_GT_OQ);
  const __mmask16 k23 = _mm512_cmp_ps_mask(t3, t2, _CMP_GT_OQ);
  const __m512 w01 = _mm512_mask_blend_ps(k01, t0, t1);
  const __m512 w23 = _mm512_mask_blend_ps(k23, t2, t3);
  const __m512i c01 = _mm512_maskz_mov_epi32(k01, _mm512_set1_epi32(1));
  const __m512i c23 = _mm512_mask_blend_epi32(k23, _mm512_set1_epi32(2), _mm512_set1_epi32(3));
  const __mmask16 kr = _mm512_cmp_ps_mask(w23, w01, _CMP_GT_OQ);
  best = _mm512_mask_blend_ps(kr, w01, w23);
  code = _mm512_mask_blend_epi32(kr, c01, c23);
  code = _mm512_mask_blend_epi32(_mm512_cmp_ps_mask(best, zero, _CMP_GT_OQ),
                                 _mm512_set1_epi32(4), code);
}

// Stores the lanes m of best and code (as bytes) at out and codes.
RV_RELU_POOL_TARGET inline void store(float* out, uint8_t* codes, __mmask16 m, __m512 best,
                                      __m512i code) {
  _mm512_mask_storeu_ps(out, m, best);
  _mm_mask_storeu_epi8(codes, m, _mm512_cvtepi32_epi8(code));
}

// 16 columns from j0 (lanes m) of conv-output row i of one plane's gradient: the pooled
// gradient at `gp` / `cd` (pooled row i / 2 from column j0 / 2, j0 even; lanes pm) where that
// lane is its window's chosen tap, else +0 (the select the pool's and relu's backwards make).
RV_RELU_POOL_TARGET inline __m512 spread16(const float* gp, const uint8_t* cd, int64_t i,
                                           __mmask16 m, __mmask16 pm) {
  const __m512i dup = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
  const __m512i parity = _mm512_setr_epi32(0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1);
  const __m512 g = _mm512_permutexvar_ps(dup, _mm512_maskz_loadu_ps(pm, gp));
  const __m512i c =
      _mm512_permutexvar_epi32(dup, _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(pm, cd)));
  const __m512i want = _mm512_add_epi32(parity, _mm512_set1_epi32(int(2 * (i & 1))));
  return _mm512_maskz_mov_ps(m & _mm512_cmpeq_epi32_mask(c, want), g);
}

}  // namespace ranvier::cpu::relu_pool
