// The CUDA indexing kernels' per-element / per-line math (indexing.cu), host-callable for the
// host-side test: offsets of a row-major position in a strided view, and the collision-free
// work units of the writing kernels.
// Note [Deterministic scatter and index_put]: the CPU kernels write serially in index order,
// so duplicate targets resolve (last write wins, or accumulate left to right) the same way for
// any thread count. Here:
//   - scatter along dim: two index elements can only hit the same target when they differ in
//     their dim coordinate alone, so one thread takes a whole line of the index along dim and
//     walks it in order;
//   - index_put: targets are pre_off(p) + offsets[k] + post_off(q); distinct (p, q) never
//     collide, so one thread takes one (p, q) and walks k in order; when there are few (p, q)
//     and many rows, the rows are first sorted by offset (stable) and one thread takes one
//     run of equal offsets of one (p, q), walking it in k order (index_put_run).
// Both reproduce the CPU's order exactly (bitwise results, also for float accumulation).
#pragma once
#include <cstdint>
#include <type_traits>

#include "cuda/dtypes.cuh"
#include "kernels/common/macros.h"
#include "ops/indexing.h"

namespace ranvier::cuda::indexing_math {

// Element offset of row-major position p in a view with the given sizes and strides.
RV_HOST_DEVICE RV_INLINE int64_t offset_of(int ndim, const int64_t* sizes, const int64_t* strides,
                                           int64_t p) {
  int64_t off = 0;
  for (int d = ndim - 1; d >= 0; --d) {
    off += (p % sizes[d]) * strides[d];
    p /= sizes[d];
  }
  return off;
}

// dst += v with the CPU kernel's rule (bool: or; float16/bfloat16: in float, rounded back).
template <typename T>
RV_HOST_DEVICE RV_INLINE void accumulate_into(T& dst, const T& v) {
  if constexpr (std::is_same_v<T, bool>) dst = dst || v;
  else if constexpr (kReduced<T>) dst = convert<T>(convert<float>(dst) + convert<float>(v));
  else dst = T(dst + v);
}

template <typename T>
RV_HOST_DEVICE RV_INLINE bool is_nonzero(const T& v) {
  if constexpr (kReduced<T>) return (v.x & 0x7fff) != 0;  // +-0 is zero, NaN is not
  else return v != T(0);
}

// scatter, line l: the index positions whose coordinates other than dim are those of line l,
// dim coordinate 0, 1, ... in order. src_host: the value when src.data is null.
template <typename T>
RV_HOST_DEVICE void scatter_line(const StridedView& self, const StridedView& index,
                                 const StridedView& src, T value, int dim, bool accumulate,
                                 int64_t l) {
  // coordinates of line l over the index's dims with dim's size taken as 1
  int64_t ioff = 0, soff = 0, xoff = 0;
  for (int d = index.ndim - 1; d >= 0; --d) {
    if (d == dim) continue;
    const int64_t c = l % index.sizes[d];
    l /= index.sizes[d];
    ioff += c * index.strides[d];
    soff += c * self.strides[d];
    if (src.data) xoff += c * src.strides[d];
  }
  const int64_t* idx = reinterpret_cast<const int64_t*>(index.data);
  T* s = reinterpret_cast<T*>(self.data);
  const T* x = reinterpret_cast<const T*>(src.data);
  for (int64_t k = 0; k < index.sizes[dim]; ++k) {
    const T v = x ? x[xoff + k * src.strides[dim]] : value;
    T& dst = s[soff + idx[ioff + k * index.strides[dim]] * self.strides[dim]];
    if (accumulate) accumulate_into(dst, v);
    else dst = v;
  }
}

// index_put for unit u = p * post_n + q: walks the index rows k in order.
template <typename T>
RV_HOST_DEVICE void index_put_unit(const IndexArgs& a, int64_t post_n, bool accumulate, int64_t u) {
  const int64_t p = u / post_n, q = u % post_n;
  const int64_t base = offset_of(a.pre.ndim, a.pre.sizes, a.pre.strides, p) +
                       offset_of(a.post.ndim, a.post.sizes, a.post.strides, q);
  T* dst = reinterpret_cast<T*>(a.pre.data);
  const T* vals = reinterpret_cast<const T*>(a.flat);
  for (int64_t k = 0; k < a.n_index; ++k) {
    const T v = vals[(p * a.n_index + k) * post_n + q];
    if (accumulate) accumulate_into(dst[base + a.offsets[k]], v);
    else dst[base + a.offsets[k]] = v;
  }
}

// index_put when many index rows share few (p, q) units: the rows sorted by offset (a stable
// sort, so rows with one offset keep ascending k); thread (u, i) handles the run of equal
// offsets starting at sorted position i (nothing when i is inside a run), applying its rows in
// ascending k: per target, the CPU's order again.
template <typename T>
RV_HOST_DEVICE void index_put_run(const IndexArgs& a, int64_t post_n, bool accumulate,
                                  const int64_t* sorted_off, const int64_t* sorted_k, int64_t u,
                                  int64_t i) {
  if (i > 0 && sorted_off[i] == sorted_off[i - 1]) return;
  const int64_t p = u / post_n, q = u % post_n;
  T* dst = reinterpret_cast<T*>(a.pre.data) + offset_of(a.pre.ndim, a.pre.sizes, a.pre.strides, p) +
           offset_of(a.post.ndim, a.post.sizes, a.post.strides, q) + sorted_off[i];
  const T* vals = reinterpret_cast<const T*>(a.flat);
  for (int64_t j = i; j < a.n_index && sorted_off[j] == sorted_off[i]; ++j) {
    const T v = vals[(p * a.n_index + sorted_k[j]) * post_n + q];
    if (accumulate) accumulate_into(*dst, v);
    else *dst = v;
  }
}

}  // namespace ranvier::cuda::indexing_math
