// CPU kernels of the indexing family: gather/scatter along a dim, advanced-index gather/put
// over precomputed offsets, masked_fill and nonzero. Index values arrive already checked and
// wrapped by the op. Writes that may collide (scatter, index_put) run serially in index order,
// so duplicates resolve the same way for any thread count.
#include <algorithm>
#include <cstring>
#include <type_traits>

#include "kernels/cpu/loops.h"
#include "kernels/cpu/walk.h"
#include "ops/indexing.h"

namespace ranvier::cpu {

namespace {

int64_t view_numel(const StridedView& v) {
  int64_t n = 1;
  for (int d = 0; d < v.ndim; ++d) n *= v.sizes[d];
  return n;
}

template <typename T>
T scalar_as(const Scalar& v) {
  if constexpr (std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>)
    return T(float(v.to_double()));
  else if constexpr (std::is_same_v<T, bool>)
    return v.to_bool();
  else if constexpr (std::is_floating_point_v<T>)
    return T(v.to_double());
  else
    return v.is_floating() ? T(v.to_double()) : T(v.to_int());
}

template <typename T>
inline void accumulate_into(T& dst, const T& v) {
  if constexpr (std::is_same_v<T, bool>) dst = dst || v;
  else if constexpr (std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>)
    dst = T(float(dst) + float(v));
  else dst = T(dst + v);
}

void gather_cpu(const StridedView& out, const StridedView& self, const StridedView& index,
                int dim) {
  int64_t self_dim_stride = self.strides[dim];
  int64_t self_st[kMaxDims];
  for (int d = 0; d < self.ndim; ++d) self_st[d] = d == dim ? 0 : self.strides[d];
  const int64_t* st[3] = {out.strides, index.strides, self_st};
  int64_t n = view_numel(index);
  const int64_t* idx = reinterpret_cast<const int64_t*>(index.data);
  RV_DISPATCH_ALL(out.dtype, "gather", [&] {
    scalar_t* o = reinterpret_cast<scalar_t*>(out.data);
    const scalar_t* s = reinterpret_cast<const scalar_t*>(self.data);
    parallel_for(0, n, kGrainSize / 4, [&](int64_t b, int64_t e) {
      walk<3>(index.ndim, index.sizes, st, b, e, [&](const int64_t* off) {
        o[off[0]] = s[off[2] + idx[off[1]] * self_dim_stride];
      });
    });
  });
}

void scatter_cpu(const StridedView& self, const StridedView& index, const StridedView& src,
                 const Scalar& value, int dim, bool accumulate) {
  int64_t self_dim_stride = self.strides[dim];
  int64_t self_st[kMaxDims];
  for (int d = 0; d < self.ndim; ++d) self_st[d] = d == dim ? 0 : self.strides[d];
  int64_t zero_st[kMaxDims] = {};
  const int64_t* st[3] = {index.strides, src.data ? src.strides : zero_st, self_st};
  int64_t n = view_numel(index);
  const int64_t* idx = reinterpret_cast<const int64_t*>(index.data);
  RV_DISPATCH_ALL(self.dtype, "scatter", [&] {
    scalar_t* s = reinterpret_cast<scalar_t*>(self.data);
    const scalar_t* src_p = reinterpret_cast<const scalar_t*>(src.data);
    scalar_t v = scalar_as<scalar_t>(value);
    walk<3>(index.ndim, index.sizes, st, 0, n, [&](const int64_t* off) {
      scalar_t x = src_p ? src_p[off[1]] : v;
      scalar_t& dst = s[off[2] + idx[off[0]] * self_dim_stride];
      if (accumulate) accumulate_into(dst, x);
      else dst = x;
    });
  });
}

// Element offset of row-major position p in a strided view (by division: once per row).
int64_t offset_of(const StridedView& v, int64_t p) {
  int64_t off = 0;
  for (int d = v.ndim - 1; d >= 0; --d) {
    off += (p % v.sizes[d]) * v.strides[d];
    p /= v.sizes[d];
  }
  return off;
}

// Runs row(base_offset, row_index) for every (pre, index) pair; rows are independent.
template <typename F>
void for_each_index_row(const IndexArgs& a, int64_t post_n, bool parallel, const F& row) {
  int64_t rows = view_numel(a.pre) * a.n_index;
  auto body = [&](int64_t b, int64_t e) {
    int64_t p = b / a.n_index, k = b % a.n_index;
    int64_t pre_off = offset_of(a.pre, p);
    for (int64_t i = b; i < e; ++i) {
      row(pre_off + a.offsets[k], i);
      if (++k == a.n_index && i + 1 < e) {
        k = 0;
        pre_off = offset_of(a.pre, ++p);
      }
    }
  };
  if (parallel)
    parallel_for(0, rows, post_n > 0 ? std::max<int64_t>(1, kGrainSize / post_n) : kGrainSize,
                 body);
  else
    body(0, rows);
}

void index_gather_cpu(const IndexArgs& a) {
  int64_t r = view_numel(a.post);
  const int64_t* st[1] = {a.post.strides};
  RV_DISPATCH_ALL(a.pre.dtype, "index", [&] {
    const scalar_t* src = reinterpret_cast<const scalar_t*>(a.pre.data);
    scalar_t* out = reinterpret_cast<scalar_t*>(a.flat);
    bool inner_unit = a.post.ndim == 1 && a.post.strides[0] == 1;
    for_each_index_row(a, r, true, [&](int64_t base_off, int64_t i) {
      const scalar_t* base = src + base_off;
      scalar_t* o = out + i * r;
      if (r == 1 && a.post.ndim == 0) {
        o[0] = base[0];
      } else if (inner_unit) {  // (memcpy: this file is built for baseline x86-64 only)
        std::memcpy(o, base, size_t(r) * sizeof(scalar_t));
      } else {
        int64_t j = 0;
        walk<1>(a.post.ndim, a.post.sizes, st, 0, r,
                [&](const int64_t* off) { o[j++] = base[off[0]]; });
      }
    });
  });
}

void index_put_cpu(const IndexArgs& a, bool accumulate) {
  int64_t r = view_numel(a.post);
  const int64_t* st[1] = {a.post.strides};
  RV_DISPATCH_ALL(a.pre.dtype, "index_put_", [&] {
    scalar_t* dst = reinterpret_cast<scalar_t*>(a.pre.data);
    const scalar_t* vals = reinterpret_cast<const scalar_t*>(a.flat);
    // The rows in index order: duplicate indices must resolve the same way for any thread
    // count. Rows of contiguous elements (an embedding's gradient) are split by columns
    // instead, each thread running every row over its own columns, in the same order.
    if (a.post.ndim == 1 && a.post.strides[0] == 1) {
      auto columns = [&](int64_t c0, int64_t c1) {
        for_each_index_row(a, r, false, [&](int64_t base_off, int64_t i) {
          scalar_t* base = dst + base_off;
          const scalar_t* v = vals + i * r;
          if (accumulate) {
            for (int64_t j = c0; j < c1; ++j) accumulate_into(base[j], v[j]);
          } else {
            for (int64_t j = c0; j < c1; ++j) base[j] = v[j];
          }
        });
      };
      const int64_t rows = view_numel(a.pre) * a.n_index;
      if (r >= 128 && rows * r >= kGrainSize)
        parallel_for(0, (r + 63) / 64, 1, [&](int64_t b, int64_t e) {
          columns(b * 64, std::min(r, e * 64));
        });
      else
        columns(0, r);
      return;
    }
    for_each_index_row(a, r, false, [&](int64_t base_off, int64_t i) {
      scalar_t* base = dst + base_off;
      const scalar_t* v = vals + i * r;
      int64_t j = 0;
      walk<1>(a.post.ndim, a.post.sizes, st, 0, r, [&](const int64_t* off) {
        if (accumulate) accumulate_into(base[off[0]], v[j++]);
        else base[off[0]] = v[j++];
      });
    });
  });
}

void masked_fill_cpu(const LoopSpec& s, const Scalar& value) {
  RV_DISPATCH_ALL(s.dtypes[0], "masked_fill", [&] {
    scalar_t v = scalar_as<scalar_t>(value);
    for_each_row(s, [v](char** p, const int64_t* st, int64_t n) {
      scalar_t* o = reinterpret_cast<scalar_t*>(p[0]);
      const scalar_t* a = reinterpret_cast<const scalar_t*>(p[1]);
      const bool* m = reinterpret_cast<const bool*>(p[2]);
      for (int64_t i = 0; i < n; ++i) o[i * st[0]] = m[i * st[2]] ? v : a[i * st[1]];
    });
  });
}

template <typename T>
inline bool is_nonzero(const T& v) {
  if constexpr (std::is_same_v<T, bool>) return v;
  else if constexpr (std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>) return float(v) != 0.0f;
  else return v != T(0);
}

int64_t nonzero_count_cpu(const StridedView& t) {
  int64_t n = view_numel(t), count = 0;
  const int64_t* st[1] = {t.strides};
  RV_DISPATCH_ALL(t.dtype, "nonzero", [&] {
    const scalar_t* p = reinterpret_cast<const scalar_t*>(t.data);
    walk<1>(t.ndim, t.sizes, st, 0, n, [&](const int64_t* off) { count += is_nonzero(p[off[0]]); });
  });
  return count;
}

void nonzero_cpu(const StridedView& t, int64_t* out) {
  int64_t n = view_numel(t);
  int nd = t.ndim;
  RV_DISPATCH_ALL(t.dtype, "nonzero", [&] {
    const scalar_t* p = reinterpret_cast<const scalar_t*>(t.data);
    int64_t coord[kMaxDims] = {};
    int64_t off = 0;
    for (int64_t i = 0; i < n; ++i) {
      if (is_nonzero(p[off])) {
        for (int d = 0; d < nd; ++d) *out++ = coord[d];
      }
      for (int d = nd - 1; d >= 0; --d) {
        if (++coord[d] < t.sizes[d]) {
          off += t.strides[d];
          break;
        }
        off -= (t.sizes[d] - 1) * t.strides[d];
        coord[d] = 0;
      }
    }
  });
}

}  // namespace

void register_indexing_cpu() {
  gather_kernel.set(DeviceType::CPU, &gather_cpu);
  scatter_kernel.set(DeviceType::CPU, &scatter_cpu);
  index_gather_kernel.set(DeviceType::CPU, &index_gather_cpu);
  index_put_kernel.set(DeviceType::CPU, &index_put_cpu);
  masked_fill_kernel.set(DeviceType::CPU, &masked_fill_cpu);
  nonzero_count_kernel.set(DeviceType::CPU, &nonzero_count_cpu);
  nonzero_kernel.set(DeviceType::CPU, &nonzero_cpu);
}

}  // namespace ranvier::cpu
