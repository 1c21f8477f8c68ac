// An 8 x 8 float transpose in AVX2 registers, shared by the GEMM's panel packing
// (gemm_panels.cpp) and its narrow-panel kernel (gemm_packed.cpp).
#pragma once
#include <immintrin.h>

#include <cstdint>

namespace ranvier::cpu {

// Rows i = 0..7 of 8 floats at src + i * lds; out row j (at out + j * ld) gets column j.
__attribute__((target("avx2"))) inline void transpose8(const float* src, int64_t lds, float* out,
                                                       int64_t ld) {
  __m256 r[8], t[8];
  for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(src + i * lds);
  for (int i = 0; i < 8; i += 2) {  // 2 x 2 blocks of single floats
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {  // 4 x 4 blocks within each 128-bit lane
    r[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
    r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
    r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
  }
  // r[s] and r[4 + s] hold columns s (low lane) and 4 + s (high lane) of rows 0-3 and 4-7
  for (int s = 0; s < 4; ++s) {
    _mm256_storeu_ps(out + s * ld, _mm256_permute2f128_ps(r[s], r[4 + s], 0x20));
    _mm256_storeu_ps(out + (4 + s) * ld, _mm256_permute2f128_ps(r[s], r[4 + s], 0x31));
  }
}

}  // namespace ranvier::cpu
