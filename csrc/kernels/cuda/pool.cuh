// The CUDA pooling kernels' per-element math (pool.cu), host-callable for the host-side test.
// The host turns PoolSpec's windows into flat tables (PoolTables): per output row / column
// its first tap (start), step, the in-range taps [lo, hi) and divisor; per input row / column
// the range of output rows / columns whose windows may cover it. Then:
//   - forward (max, average): one thread per output, taps walked in the CPU's row-major
//     order: max keeps the first maximum and lets NaN win (the last NaN), like the CPU;
//     average sums in the CPU's order and divides by the same divisor: bitwise the CPU's;
//   - backward, as a gather per input element (no atomics): the element sums the gradients of
//     the outputs that chose it (max) or whose window covers it (average), in increasing
//     output order, which is the order the CPU adds them in: bitwise the CPU's.
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

#include "kernels/common/macros.h"
#include "ops/pool.h"

namespace ranvier::cuda::pool_math {

// Device (or host) views of the tables; all arrays indexed by output row/col or input row/col.
struct Axis {
  int64_t n_out = 0, n_in = 0, step = 1;
  const int64_t* start = nullptr;  // [n_out]
  const int64_t* lo = nullptr;     // [n_out] first in-range tap
  const int64_t* hi = nullptr;     // [n_out] end of in-range taps
  const double* div = nullptr;     // [n_out] (average)
  const int64_t* cover_lo = nullptr;  // [n_in] first output whose window may cover the input
  const int64_t* cover_hi = nullptr;  // [n_in] end of that range
};
struct PoolTables {
  Axis rows, cols;
  double divisor = 0.0;
  bool plain_2x2 = false;  // the CPU's 2x2 / stride 2 path (its max backward assigns)
};

// Whether input position y is a tap of output i's window; a: the tap index.
RV_HOST_DEVICE RV_INLINE bool covers(const Axis& ax, int64_t i, int64_t y) {
  const int64_t d = y - ax.start[i];
  if (d < 0 || d % ax.step != 0) return false;
  const int64_t a = d / ax.step;
  return a >= ax.lo[i] && a < ax.hi[i];
}

template <typename T>
RV_HOST_DEVICE RV_INLINE T divisor(const PoolTables& t, int64_t i, int64_t j) {
  return T(t.divisor != 0.0 ? t.divisor : t.rows.div[i] * t.cols.div[j]);
}

// Output k = (p, i, j) of the max pool: value and flat argmax y * w + x.
template <typename T>
RV_HOST_DEVICE void max_forward(const PoolTables& t, const T* in, T* out, int64_t* idx, int64_t k) {
  const int64_t oh = t.rows.n_out, ow = t.cols.n_out, h = t.rows.n_in, w = t.cols.n_in;
  const int64_t p = k / (oh * ow), i = (k / ow) % oh, j = k % ow;
  const T* x = in + p * h * w;
  int64_t best = -1;
  T bv = T(0);
  for (int64_t a = t.rows.lo[i]; a < t.rows.hi[i]; ++a) {
    const int64_t rowoff = (t.rows.start[i] + a * t.rows.step) * w;
    for (int64_t b = t.cols.lo[j]; b < t.cols.hi[j]; ++b) {
      const int64_t off = rowoff + t.cols.start[j] + b * t.cols.step;
      const T v = x[off];
      if (best < 0 || v > bv || v != v) {
        best = off;
        bv = v;
      }
    }
  }
  if (best < 0) {
    best = 0;
    bv = x[0];
  }
  idx[k] = best;
  if (out) out[k] = bv;
}

// Input element e = (p, y, x) of the max pool's input gradient.
template <typename T>
RV_HOST_DEVICE void max_backward(const PoolTables& t, const T* g, const int64_t* idx, T* gi, int64_t e) {
  const int64_t oh = t.rows.n_out, ow = t.cols.n_out, h = t.rows.n_in, w = t.cols.n_in;
  const int64_t p = e / (h * w), y = (e / w) % h, x = e % w;
  const int64_t target = y * w + x;
  const T* gp = g + p * oh * ow;
  const int64_t* ip = idx + p * oh * ow;
  T acc = T(0);
  for (int64_t i = t.rows.cover_lo[y]; i < t.rows.cover_hi[y]; ++i)
    for (int64_t j = t.cols.cover_lo[x]; j < t.cols.cover_hi[x]; ++j)
      if (ip[i * ow + j] == target) acc = t.plain_2x2 ? gp[i * ow + j] : acc + gp[i * ow + j];
  gi[e] = acc;
}

template <typename T>
RV_HOST_DEVICE void avg_forward(const PoolTables& t, const T* in, T* out, int64_t k) {
  const int64_t oh = t.rows.n_out, ow = t.cols.n_out, h = t.rows.n_in, w = t.cols.n_in;
  const int64_t p = k / (oh * ow), i = (k / ow) % oh, j = k % ow;
  const T* x = in + p * h * w;
  T acc = T(0);
  for (int64_t a = t.rows.lo[i]; a < t.rows.hi[i]; ++a) {
    const T* row = x + (t.rows.start[i] + a) * w + t.cols.start[j];
    for (int64_t b = t.cols.lo[j]; b < t.cols.hi[j]; ++b) acc += row[b];
  }
  out[k] = acc / divisor<T>(t, i, j);
}

// The CPU's average backward adds g / div over each window with unit steps (start + a).
template <typename T>
RV_HOST_DEVICE void avg_backward(const PoolTables& t, const T* g, T* gi, int64_t e) {
  const int64_t oh = t.rows.n_out, ow = t.cols.n_out, h = t.rows.n_in, w = t.cols.n_in;
  const int64_t p = e / (h * w), y = (e / w) % h, x = e % w;
  const T* gp = g + p * oh * ow;
  T acc = T(0);
  for (int64_t i = t.rows.cover_lo[y]; i < t.rows.cover_hi[y]; ++i) {
    const int64_t a = y - t.rows.start[i];
    if (a < t.rows.lo[i] || a >= t.rows.hi[i]) continue;
    for (int64_t j = t.cols.cover_lo[x]; j < t.cols.cover_hi[x]; ++j) {
      const int64_t b = x - t.cols.start[j];
      if (b < t.cols.lo[j] || b >= t.cols.hi[j]) continue;
      acc += gp[i * ow + j] / divisor<T>(t, i, j);
    }
  }
  gi[e] = acc;
}

// ---- host side: the tables of a PoolSpec ----

// One axis as flat host arrays: int64 [start | lo | hi] (n_out each) then [cover_lo |
// cover_hi] (n_in each); double div (n_out, empty when the windows carry none).
struct HostAxis {
  int64_t n_out = 0, n_in = 0, step = 1;
  std::vector<int64_t> ints;
  std::vector<double> div;
};

inline HostAxis host_axis(const PoolWindows& win, int64_t size) {
  HostAxis a;
  a.n_out = int64_t(win.start.size());
  a.n_in = size;
  a.step = win.step;
  a.ints.assign(size_t(3 * a.n_out + 2 * size), 0);
  int64_t* start = a.ints.data();
  int64_t* lo = start + a.n_out;
  int64_t* hi = lo + a.n_out;
  int64_t* clo = hi + a.n_out;
  int64_t* chi = clo + size;
  for (int64_t i = 0; i < a.n_out; ++i) {  // the CPU kernel's in-range taps
    const int64_t s0 = win.start[size_t(i)], st = win.step;
    int64_t l = s0 >= 0 ? 0 : (-s0 + st - 1) / st;
    int64_t h = s0 >= size ? 0 : (size - 1 - s0) / st + 1;
    h = std::min(h, win.count[size_t(i)]);
    start[i] = s0;
    lo[i] = l;
    hi[i] = std::max(h, l);
  }
  for (int64_t y = 0; y < size; ++y) {  // outputs whose tap range spans y
    clo[y] = a.n_out;
    chi[y] = 0;
  }
  for (int64_t i = 0; i < a.n_out; ++i) {
    if (hi[i] <= lo[i]) continue;
    const int64_t first = start[i] + lo[i] * a.step, last = start[i] + (hi[i] - 1) * a.step;
    for (int64_t y = std::max<int64_t>(first, 0); y <= last && y < size; ++y) {
      clo[y] = std::min(clo[y], i);
      chi[y] = std::max(chi[y], i + 1);
    }
  }
  for (int64_t y = 0; y < size; ++y)
    if (chi[y] == 0) clo[y] = 0;
  a.div = win.div;
  return a;
}

// The Axis view of a HostAxis whose arrays live at ints / div (host or device copies).
inline Axis axis_view(const HostAxis& h, const int64_t* ints, const double* div) {
  Axis a;
  a.n_out = h.n_out;
  a.n_in = h.n_in;
  a.step = h.step;
  a.start = ints;
  a.lo = ints + h.n_out;
  a.hi = ints + 2 * h.n_out;
  a.cover_lo = ints + 3 * h.n_out;
  a.cover_hi = ints + 3 * h.n_out + h.n_in;
  a.div = h.div.empty() ? nullptr : div;
  return a;
}

// The CPU kernel's test for its 2x2 / stride 2 path.
inline bool is_plain_2x2(const PoolSpec& s) {
  const PoolWindows& R = *s.rows;
  const PoolWindows& C = *s.cols;
  if (R.step != 1 || C.step != 1) return false;
  const int64_t oh = int64_t(R.start.size()), ow = int64_t(C.start.size());
  if (2 * oh > s.h || 2 * ow > s.w) return false;
  for (int64_t i = 0; i < oh; ++i)
    if (R.start[size_t(i)] != 2 * i || R.count[size_t(i)] != 2) return false;
  for (int64_t j = 0; j < ow; ++j)
    if (C.start[size_t(j)] != 2 * j || C.count[size_t(j)] != 2) return false;
  return true;
}

}  // namespace ranvier::cuda::pool_math
