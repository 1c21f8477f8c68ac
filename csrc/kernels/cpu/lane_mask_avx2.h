// The lane mask of the hand-written AVX2 kernels: all-ones in the 32-bit lanes [0, n) of an
// 8-lane vector (none for n <= 0, all for n >= 8). It serves _mm256_maskload_ps /
// _mm256_maskstore_ps at a row's last floats (nothing past them is read or written) and blends;
// store_first writes a row's last lanes with plain stores.
#pragma once
#include <immintrin.h>

#include <cstdint>

namespace ranvier::cpu {

__attribute__((target("avx2"))) inline __m256i lane_mask8(int64_t n) {
  const int32_t c = int32_t(n <= 0 ? 0 : (n >= 8 ? 8 : n));
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(c), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// The first n lanes of v to p with plain stores (n >= 8: all of them). A masked store
// (vmaskmovps) costs many times a plain one on AMD Zen 3 (measured: most of the time of the
// one-channel fused forward, whose blocks store 4 pooled values), so the lanes go out as the
// 16-, 8- and 4-byte pieces of n.
__attribute__((target("avx2"))) inline void store_first(float* p, __m256 v, int64_t n) {
  if (n >= 8) return _mm256_storeu_ps(p, v);
  __m128 h = _mm256_castps256_ps128(v);
  if (n >= 4) {
    _mm_storeu_ps(p, h);
    h = _mm256_extractf128_ps(v, 1);
    p += 4;
    n -= 4;
  }
  if (n >= 2) {
    _mm_storel_pi(reinterpret_cast<__m64*>(p), h);
    h = _mm_movehl_ps(h, h);
    p += 2;
    n -= 2;
  }
  if (n >= 1) _mm_store_ss(p, h);
}

}  // namespace ranvier::cpu
