// CPU kernels of the sort family: a per-line sort in a total order on (key, index), so that the
// result is a stable sort's and topk's k elements need only a partial sort (lines split across
// threads, each line sorted by one thread, so results do not depend on the thread count), and
// the grouping step of unique.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
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

// Keys ordered with NaN above everything (so NaN comes last ascending, first descending).
template <typename K>
inline bool key_below(K a, K b) {
  if constexpr (std::is_floating_point_v<K>) return !std::isnan(a) && (std::isnan(b) || a < b);
  else return a < b;
}
// Total orders on (key, index) pairs, equal keys (both NaN included) in index order either way:
// the order a stable sort gives.
template <typename P>
inline bool ascending_before(const P& x, const P& y) {
  return key_below(x.first, y.first) || (!key_below(y.first, x.first) && x.second < y.second);
}
template <typename P>
inline bool descending_before(const P& x, const P& y) {
  return key_below(y.first, x.first) || (!key_below(x.first, y.first) && x.second < y.second);
}

// Puts the first k elements of buf in their final order (the rest in any order): a partial
// sort for small k, a selection (nth_element, linear) and a sort of the k selected for larger
// k, else a full sort. The order is total, so the result is that of a stable sort either way.
template <typename P, typename Before>
void order_first_k(std::vector<P>& buf, int64_t k, const Before& before) {
  if (k < int64_t(buf.size()) / 8) {  // heap selection: n log k
    std::partial_sort(buf.begin(), buf.begin() + k, buf.end(), before);
  } else if (k < int64_t(buf.size())) {
    std::nth_element(buf.begin(), buf.begin() + k, buf.end(), before);
    std::sort(buf.begin(), buf.begin() + k, before);
  } else {
    std::sort(buf.begin(), buf.end(), before);
  }
}

// Keys of 32 bits or fewer sort as unsigned integers in the line's order: NaN above every
// number (all NaNs equal), -0 equal to +0, as key_below has them; descending lines use the
// complement. Packed above the element's index into 64 bits, they are sorted by an LSD radix
// sort on the key bytes, which is stable, so equal keys stay in index order. A comparison sort
// of 1,024 floats took ~55 us (mispredicted branches); this takes a few.
template <typename K>
constexpr bool kRadixKey = std::is_same_v<K, float> || std::is_same_v<K, int32_t> ||
                           std::is_same_v<K, uint8_t> || std::is_same_v<K, bool>;

template <typename K>
inline uint32_t ordered_bits(K v) {
  if constexpr (std::is_same_v<K, float>) {
    if (v != v) return 0xFFFFFFFFu;
    if (v == 0.0f) v = 0.0f;  // -0 -> +0
    uint32_t b;
    std::memcpy(&b, &v, sizeof(b));
    return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
  } else if constexpr (std::is_same_v<K, int32_t>) {
    return uint32_t(v) ^ 0x80000000u;
  } else {
    return uint32_t(v);
  }
}

// Sorts a[0, n) by bits 32..63 (LSD, a byte a pass, passes whose byte is the same everywhere
// skipped); returns the buffer (a or tmp) that holds the result.
uint64_t* radix_sort_high32(uint64_t* a, uint64_t* tmp, int64_t n) {
  for (int pass = 0; pass < 4; ++pass) {
    const int shift = 32 + 8 * pass;
    int64_t start[257] = {};
    for (int64_t i = 0; i < n; ++i) ++start[((a[i] >> shift) & 0xFF) + 1];
    bool one_bucket = false;
    for (int c = 1; c <= 256; ++c) one_bucket = one_bucket || start[c] == n;
    if (one_bucket) continue;
    for (int c = 1; c <= 256; ++c) start[c] += start[c - 1];
    for (int64_t i = 0; i < n; ++i) tmp[start[(a[i] >> shift) & 0xFF]++] = a[i];
    std::swap(a, tmp);
  }
  return a;
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
    if constexpr (kRadixKey<K>) {
      // (a small k is cheaper as the comparison path's heap selection)
      if (n <= int64_t(0xFFFFFFFF) && k >= n / 8) {
        parallel_for(0, lines, grain, [&](int64_t b, int64_t e) {
          std::vector<uint64_t> keys(static_cast<size_t>(n)), tmp(static_cast<size_t>(n));
          const uint32_t flip = descending ? 0xFFFFFFFFu : 0u;
          walk<3>(nd, outer_sizes, st, b, e, [&](const int64_t* off) {
            for (int64_t i = 0; i < n; ++i)
              keys[i] = uint64_t(ordered_bits(K(src[off[0] + i * in_ds])) ^ flip) << 32 |
                        uint64_t(i);
            const uint64_t* sorted = radix_sort_high32(keys.data(), tmp.data(), n);
            for (int64_t i = 0; i < k; ++i) {
              const int64_t j = int64_t(sorted[i] & 0xFFFFFFFFu);
              vo[off[1] + i * v_ds] = src[off[0] + j * in_ds];
              io[off[2] + i * i_ds] = j;
            }
          });
        });
        return;
      }
    }
    parallel_for(0, lines, grain, [&](int64_t b, int64_t e) {
      std::vector<std::pair<K, int64_t>> buf;
      buf.resize(static_cast<size_t>(n));
      walk<3>(nd, outer_sizes, st, b, e, [&](const int64_t* off) {
        for (int64_t i = 0; i < n; ++i) buf[i] = {K(src[off[0] + i * in_ds]), i};
        using P = std::pair<K, int64_t>;
        // (lambdas, not function pointers: the comparisons inline)
        if (descending)
          order_first_k(buf, k, [](const P& x, const P& y) { return descending_before(x, y); });
        else
          order_first_k(buf, k, [](const P& x, const P& y) { return ascending_before(x, y); });
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
