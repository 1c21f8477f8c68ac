// The 2x2 / stride 2 / no padding max pool of one plane (values + flat argmax), the common
// case of max_pool2d, used by kernels/cpu/pool.cpp. Branch-free: with real data the three
// comparisons per window are unpredictable, and the branchy version cost ~6-14 ns per output.
// float runs an AVX-512 or AVX2 path where the CPU has it (pool_2x2.cpp, chosen at run time
// from cpu_capability()).
// Semantics as the general kernel: the first maximum in row-major window order wins ties; a
// NaN wins over numbers, the last NaN over earlier ones.
#pragma once
#include <cstdint>
#include <cstring>

namespace ranvier::cpu {

// The unsigned integer with T's bits (the selects below work on them).
template <typename T>
struct PoolBits;
template <>
struct PoolBits<float> {
  using type = uint32_t;
};
template <>
struct PoolBits<double> {
  using type = uint64_t;
};

// Takes tap v (flat index vi) when it beats the best so far: greater, or a NaN (so the last
// NaN wins). Written as masks on the bits, not `t ? v : best`: GCC turns that select (and the
// `|` of the two comparisons) into branches, mispredicted on real data.
template <typename T>
inline void max_pool_2x2_take(T v, int64_t vi, T& best, int64_t& bi) {
  using U = typename PoolBits<T>::type;
  const int64_t t = -int64_t(int((v > best)) | int(v != v));  // all ones or zero
  U a, b;
  std::memcpy(&a, &v, sizeof(T));
  std::memcpy(&b, &best, sizeof(T));
  b ^= (a ^ b) & U(t);
  std::memcpy(&best, &b, sizeof(T));
  bi ^= (vi ^ bi) & t;
}

// The portable loop (float64, and float32 on CPUs without AVX2): output rows [i0, i1). Each
// window is taken as a tree, the top pair and the bottom pair and then the two winners (the
// bottom one wins only if greater or NaN), which picks what the row-major scan does and halves
// the chain of dependent selects (1.3-1.5x faster than the scan on a 28 x 28 plane).
template <typename T>
inline void max_pool_2x2_rows(const T* x, int64_t w, int64_t i0, int64_t i1, int64_t ow, T* o,
                              int64_t* ix) {
  for (int64_t i = i0; i < i1; ++i) {
    const T* r0 = x + 2 * i * w;
    const T* r1 = r0 + w;
    const int64_t base = 2 * i * w;
    for (int64_t j = 0; j < ow; ++j) {
      const int64_t c = 2 * j;
      T top = r0[c], bottom = r1[c];
      int64_t ti = base + c, bi = base + w + c;
      max_pool_2x2_take(r0[c + 1], ti + 1, top, ti);
      max_pool_2x2_take(r1[c + 1], bi + 1, bottom, bi);
      max_pool_2x2_take(bottom, bi, top, ti);
      if (o) o[i * ow + j] = top;
      ix[i * ow + j] = ti;
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
