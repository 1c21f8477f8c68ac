// The 2x2 / stride 2 / no padding max pool of one plane (values + flat argmax), the common
// case of max_pool2d, used by kernels/cpu/pool.cpp. Branch-free: with real data the three
// comparisons per window are unpredictable, and the branchy version cost ~6 ns per output.
// float runs an AVX-512 or AVX2 path where the CPU has it (pool_2x2.cpp, chosen at run time
// from cpu_capability()).
// Semantics as the general kernel: the first maximum in row-major window order wins ties; a
// NaN wins over numbers, the last NaN over earlier ones.
#pragma once
#include <cstdint>

namespace ranvier::cpu {

template <typename T>
inline void max_pool_2x2_rows(const T* x, int64_t w, int64_t i0, int64_t i1, int64_t ow, T* o,
                              int64_t* ix) {
  for (int64_t i = i0; i < i1; ++i) {
    const T* r0 = x + 2 * i * w;
    const T* r1 = r0 + w;
    const int64_t base = 2 * i * w;
    for (int64_t j = 0; j < ow; ++j) {
      const int64_t c = 2 * j;
      T bv = r0[c];
      int64_t best = base + c;
      const T v1 = r0[c + 1], v2 = r1[c], v3 = r1[c + 1];
      bool t = (v1 > bv) | (v1 != v1);
      bv = t ? v1 : bv;
      best = t ? base + c + 1 : best;
      t = (v2 > bv) | (v2 != v2);
      bv = t ? v2 : bv;
      best = t ? base + w + c : best;
      t = (v3 > bv) | (v3 != v3);
      bv = t ? v3 : bv;
      best = t ? base + w + c + 1 : best;
      if (o) o[i * ow + j] = bv;
      ix[i * ow + j] = best;
    }
  }
}

// Which float path this CPU runs: 2 AVX-512, 1 AVX2, 0 the portable loop.
int max_pool_2x2_simd_level();
// The float plane with AVX-512 (only call at level 2) or AVX2 (level 1 or more). Their indices
// are computed in 32 bits: only for planes with 2 * oh * w < 2^31.
void max_pool_2x2_avx512(const float* x, int64_t w, int64_t oh, int64_t ow, float* o,
                         int64_t* ix);
void max_pool_2x2_avx2(const float* x, int64_t w, int64_t oh, int64_t ow, float* o,
                       int64_t* ix);

template <typename T>
inline void max_pool_2x2(const T* x, int64_t w, int64_t oh, int64_t ow, T* o, int64_t* ix) {
  max_pool_2x2_rows(x, w, 0, oh, ow, o, ix);
}

template <>
inline void max_pool_2x2<float>(const float* x, int64_t w, int64_t oh, int64_t ow, float* o,
                                int64_t* ix) {
  static const int level = max_pool_2x2_simd_level();
  if (level > 0 && 2 * oh * w < (int64_t(1) << 31)) {
    if (level == 2) return max_pool_2x2_avx512(x, w, oh, ow, o, ix);
    return max_pool_2x2_avx2(x, w, oh, ow, o, ix);
  }
  max_pool_2x2_rows(x, w, 0, oh, ow, o, ix);
}

}  // namespace ranvier::cpu
