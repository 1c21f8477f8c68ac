// CPU kernels of the sort family: a stable per-line sort (lines split across threads, each
// line sorted by one thread, so results do not depend on the thread count) and the grouping
// step of unique.
#include <algorithm>
#include <cmath>
#include <type_traits>
#include <utility>
#include <vector>

#include "kernels/cpu/walk.h"
#include "core/parallel.h"
#include "ops/sort.h"

namespace ranvier::cpu {

namespace {

template <typename T>
using key_t = std::conditional_t<std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>, float, T>;

template <typename K>
inline bool isnan_key(K v) {
  if constexpr (std::is_floating_point_v<K>) return std::isnan(v);
  else return false;
}

void sort_cpu(const StridedView& values, const StridedView& indices, const StridedView& in,
              int dim, bool descending, int64_t k) {
  int nd = in.ndim;
  int64_t n = in.sizes[dim];
  // Lines: every coordinate with dim fixed at 0.
  int64_t outer_sizes[kMaxDims];
  int64_t lines = 1;
  for (int d = 0; d < nd; ++d) {
    outer_sizes[d] = d == dim ? 1 : in.sizes[d];
    lines *= outer_sizes[d];
  }
  const int64_t* st[3] = {in.strides, values.strides, indices.strides};
  int64_t in_ds = in.strides[dim], v_ds = values.strides[dim], i_ds = indices.strides[dim];
  RV_DISPATCH_ALL(in.dtype, "sort", [&] {
    using K = key_t<scalar_t>;
    const scalar_t* src = reinterpret_cast<const scalar_t*>(in.data);
    scalar_t* vo = reinterpret_cast<scalar_t*>(values.data);
    int64_t* io = reinterpret_cast<int64_t*>(indices.data);
    int64_t grain = std::max<int64_t>(1, kGrainSize / std::max<int64_t>(n, 1) / 8);
    parallel_for(0, lines, grain, [&](int64_t b, int64_t e) {
      std::vector<std::pair<K, int64_t>> buf;
      buf.resize(static_cast<size_t>(n));
      walk<3>(nd, outer_sizes, st, b, e, [&](const int64_t* off) {
        for (int64_t i = 0; i < n; ++i) buf[i] = {K(src[off[0] + i * in_ds]), i};
        if (descending)
          std::stable_sort(buf.begin(), buf.end(), [](const auto& x, const auto& y) {
            return x.first > y.first || (isnan_key(x.first) && !isnan_key(y.first));
          });
        else
          std::stable_sort(buf.begin(), buf.end(), [](const auto& x, const auto& y) {
            return x.first < y.first || (!isnan_key(x.first) && isnan_key(y.first));
          });
        for (int64_t i = 0; i < k; ++i) {
          vo[off[1] + i * v_ds] = src[off[0] + buf[i].second * in_ds];
          io[off[2] + i * i_ds] = buf[i].second;
        }
      });
    });
  });
}

int64_t unique_groups_cpu(const StridedView& sorted, int64_t* group) {
  int64_t n = sorted.sizes[0], s = sorted.strides[0], g = -1;
  RV_DISPATCH_ALL(sorted.dtype, "unique", [&] {
    using K = key_t<scalar_t>;
    const scalar_t* p = reinterpret_cast<const scalar_t*>(sorted.data);
    for (int64_t i = 0; i < n; ++i) {
      if (i == 0 || !(K(p[i * s]) == K(p[(i - 1) * s]))) ++g;
      group[i] = g;
    }
  });
  return g + 1;
}

}  // namespace

void register_sort_cpu() {
  sort_kernel.set(DeviceType::CPU, &sort_cpu);
  unique_groups_kernel.set(DeviceType::CPU, &unique_groups_cpu);
}

}  // namespace ranvier::cpu
