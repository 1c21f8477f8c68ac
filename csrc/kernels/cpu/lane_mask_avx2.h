// The lane mask of the hand-written AVX2 kernels: all-ones in the 32-bit lanes [0, n) of an
// 8-lane vector (none for n <= 0, all for n >= 8). It serves _mm256_maskload_ps /
// _mm256_maskstore_ps at a row's last floats (nothing past them is read or written) and blends.
#pragma once
#include <immintrin.h>

#include <cstdint>

namespace ranvier::cpu {

__attribute__((target("avx2"))) inline __m256i lane_mask8(int64_t n) {
  const int32_t c = int32_t(n <= 0 ? 0 : (n >= 8 ? 8 : n));
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(c), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

}  // namespace ranvier::cpu
