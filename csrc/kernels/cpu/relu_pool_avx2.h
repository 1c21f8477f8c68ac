// AVX2 + FMA pieces of the fused conv -> relu -> 2x2 max pool (Note [Fused patterns]), shared
// by the one-channel direct kernels and the Winograd output transform: the 8-lane
// counterparts of relu_pool_avx512.h, with the same semantics. The window's taps are numbered
// row-major (0 = top left, 3 = bottom right); a pooled element's code is the tap its maximum
// came from when that maximum is positive, else 4 (no gradient reaches the conv). AVX2 has no
// mask registers: comparisons give all-ones lanes, which select through blends and ANDs;
// partial vectors are read with maskload (lanes outside the mask read nothing) and written in
// pieces (store_first). Only for functions compiled with the same target.
#pragma once
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/cpu/lane_mask_avx2.h"

namespace ranvier::cpu::relu_pool_avx2 {

#define RV_AVX2_TARGET __attribute__((target("avx2,fma")))

// Integer lane mask of the first n lanes (n clamped to [0, 8]), for maskload and selects.
RV_AVX2_TARGET inline __m256i first8(int64_t n) {
  const int32_t k = n <= 0 ? 0 : n >= 8 ? 8 : int32_t(n);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(k), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// Lanes of an 8-wide load starting at column col0 that fall inside [0, w).
RV_AVX2_TARGET inline __m256i inside8(int64_t col0, int64_t w) {
  // Lane k is inside when 0 <= col0 + k < w, i.e. -col0 <= k < w - col0 (clamped to int32:
  // the bounds only matter within [-1, 8]).
  const int64_t lo = col0 >= 0 ? 0 : -col0, hi = w - col0;
  const int32_t lo32 = lo > 8 ? 8 : int32_t(lo), hi32 = hi < 0 ? 0 : hi > 8 ? 8 : int32_t(hi);
  const __m256i k = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_andnot_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32(lo32), k),
                             _mm256_cmpgt_epi32(_mm256_set1_epi32(hi32), k));
}

// relu as x > 0 ? x : 0 (NaN and -0 give +0): max_ps returns its second operand when either
// is NaN or both are zeros.
RV_AVX2_TARGET inline __m256 relu(__m256 x) { return _mm256_max_ps(x, _mm256_setzero_ps()); }

// The max of four relu'd taps per lane with the pool's semantics (strict comparisons keep the
// first maximum in tap order; code holds the tap as int32, 4 where the maximum is +0). On
// integer vector operations: relu's outputs are +0 or positive and never NaN, and such floats
// are ordered as their bit patterns are as int32, so integer comparisons pick the same taps and
// the integer max gives the same bits. On Zen 3 these spread over more of the vector pipes than
// float comparisons and blends, which share the FMA pipes (the one-channel fused forward 614 ->
// 600 us on one thread).
RV_AVX2_TARGET inline void pool4(__m256 t0, __m256 t1, __m256 t2, __m256 t3, __m256& best,
                                 __m256i& code) {
  const __m256i i0 = _mm256_castps_si256(t0), i1 = _mm256_castps_si256(t1),
                i2 = _mm256_castps_si256(t2), i3 = _mm256_castps_si256(t3);
  const __m256i k01 = _mm256_cmpgt_epi32(i1, i0), k23 = _mm256_cmpgt_epi32(i3, i2);
  const __m256i w01 = _mm256_max_epi32(i0, i1), w23 = _mm256_max_epi32(i2, i3);
  const __m256i kr = _mm256_cmpgt_epi32(w23, w01);
  const __m256i b = _mm256_max_epi32(w01, w23);
  // a true comparison is -1: 0 - k01 is the tap 1 where t1 won, 2 - k23 is 3
  const __m256i c = _mm256_blendv_epi8(_mm256_sub_epi32(_mm256_setzero_si256(), k01),
                                       _mm256_sub_epi32(_mm256_set1_epi32(2), k23), kr);
  const __m256i live = _mm256_cmpgt_epi32(b, _mm256_setzero_si256());
  code = _mm256_blendv_epi8(_mm256_set1_epi32(4), c, live);
  best = _mm256_castsi256_ps(b);
}

// Stores the first n (1..8) lanes of best and code (as bytes) at out and codes.
RV_AVX2_TARGET inline void store(float* out, uint8_t* codes, int64_t n, __m256 best,
                                 __m256i code) {
  store_first(out, best, n);
  // byte 0 of each int32 lane (codes are 0-4), the two 128-bit halves' four bytes side by side
  const __m256i pick = _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                                        -1, 0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                                        -1, -1);
  const __m256i b = _mm256_shuffle_epi8(code, pick);
  const __m128i bytes =
      _mm_unpacklo_epi32(_mm256_castsi256_si128(b), _mm256_extracti128_si256(b, 1));
  uint64_t v = uint64_t(_mm_cvtsi128_si64(bytes));  // lane k in byte k
  if (n >= 8) {
    std::memcpy(codes, &v, 8);
    return;
  }
  // in 4-, 2- and 1-byte pieces (a byte at a time was a tenth of the one-channel fused
  // forward, whose blocks store 4 codes)
  if (n >= 4) {
    std::memcpy(codes, &v, 4);
    codes += 4;
    v >>= 32;
    n -= 4;
  }
  if (n >= 2) {
    std::memcpy(codes, &v, 2);
    codes += 2;
    v >>= 16;
    n -= 2;
  }
  if (n >= 1) codes[0] = uint8_t(v);
}

// 8 columns from j0 (the first n of them, n >= 1) of conv-output row i of one plane's
// gradient: the pooled gradient at `gp` / `cd` (pooled row i / 2 from column j0 / 2, j0 even;
// (n + 1) / 2 of them are read) where that lane is its window's chosen tap, else +0 (the select
// the pool's and relu's backwards make).
RV_AVX2_TARGET inline __m256 spread8(const float* gp, const uint8_t* cd, int64_t i, int64_t n) {
  const int64_t np = n >= 8 ? 4 : (n + 1) / 2;  // pooled columns under these lanes
  const __m256i dup = _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3);
  __m128 g4;
  uint32_t c4;
  if (np >= 4) {
    g4 = _mm_loadu_ps(gp);
    std::memcpy(&c4, cd, 4);
  } else {
    // the codes' bytes assembled in a register (bytes stored to memory and read back as one
    // word would stall store forwarding); lanes beyond np read 0 and are masked off below
    g4 = _mm_maskload_ps(gp, _mm256_castsi256_si128(first8(np)));
    c4 = cd[0];
    if (np > 1) c4 |= uint32_t(cd[1]) << 8;
    if (np > 2) c4 |= uint32_t(cd[2]) << 16;
  }
  const __m256 g = _mm256_permutevar8x32_ps(_mm256_castps128_ps256(g4), dup);
  const __m256i c = _mm256_permutevar8x32_epi32(
      _mm256_cvtepu8_epi32(_mm_cvtsi32_si128(int32_t(c4))), dup);
  const __m256i want = _mm256_add_epi32(_mm256_setr_epi32(0, 1, 0, 1, 0, 1, 0, 1),
                                        _mm256_set1_epi32(int32_t(2 * (i & 1))));
  const __m256i chosen = _mm256_and_si256(_mm256_cmpeq_epi32(c, want), first8(n));
  return _mm256_and_ps(g, _mm256_castsi256_ps(chosen));
}

}  // namespace ranvier::cpu::relu_pool_avx2
