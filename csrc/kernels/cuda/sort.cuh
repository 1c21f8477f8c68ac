// The CUDA sort kernels' per-element math (sort.cu), host-callable for the host-side test:
// sort_key() maps an element to an unsigned integer whose order is the CPU comparator's
// (kernels/cpu/sort.cpp): floats compare as values with -0.0 == +0.0 and every NaN equal to
// every other and larger than everything (float16 / bfloat16 through float), signed integers
// by value. A stable radix sort of these keys therefore gives the CPU's stable order, ascending
// and descending (NaN last / first, ties in input order).
#pragma once
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "cuda/dtypes.cuh"
#include "kernels/common/macros.h"

namespace ranvier::cuda::sort_math {

template <typename T>
using key_of = std::conditional_t<sizeof(T) == 8, uint64_t, uint32_t>;

RV_HOST_DEVICE RV_INLINE uint32_t float_key(float f) {
  if (f != f) return 0xFFFFFFFFu;  // every NaN: one key above +inf
  if (f == 0.0f) f = 0.0f;         // -0.0 ties with +0.0
  uint32_t u;
  memcpy(&u, &f, 4);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}
RV_HOST_DEVICE RV_INLINE uint64_t double_key(double f) {
  if (f != f) return ~uint64_t(0);
  if (f == 0.0) f = 0.0;
  uint64_t u;
  memcpy(&u, &f, 8);
  return (u >> 63) ? ~u : (u | (uint64_t(1) << 63));
}

template <typename T>
RV_HOST_DEVICE RV_INLINE key_of<T> sort_key(T v) {
  if constexpr (std::is_same_v<T, float>) return float_key(v);
  else if constexpr (std::is_same_v<T, double>) return double_key(v);
  else if constexpr (kReduced<T>) return float_key(convert<float>(v));
  else if constexpr (std::is_same_v<T, int64_t>) return uint64_t(v) ^ (uint64_t(1) << 63);
  else if constexpr (std::is_same_v<T, int32_t>) return uint32_t(v) ^ 0x80000000u;
  else return uint32_t(v);  // uint8, bool
}

// unique's grouping: whether sorted element b starts a new group after a (the CPU's
// !(K(b) == K(a)): each NaN is its own group, -0.0 and +0.0 share one).
template <typename T>
RV_HOST_DEVICE RV_INLINE bool differs(T a, T b) {
  if constexpr (kReduced<T>) return !(convert<float>(a) == convert<float>(b));
  else return !(a == b);
}

// Element offset of position i of line l (row-major over the dims other than dim).
RV_HOST_DEVICE RV_INLINE int64_t line_offset(int ndim, const int64_t* sizes, const int64_t* strides,
                                             int dim, int64_t l) {
  int64_t off = 0;
  for (int d = ndim - 1; d >= 0; --d) {
    if (d == dim) continue;
    off += (l % sizes[d]) * strides[d];
    l /= sizes[d];
  }
  return off;
}

}  // namespace ranvier::cuda::sort_math
