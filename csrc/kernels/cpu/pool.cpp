// CPU kernels of the pooling family (PoolSpec, ops/pool.h): max (values + argmax) and average
// forward, and their backward passes. Work is split by plane, each plane done by one thread in
// a fixed order, so results do not depend on the thread count. Max: NaN wins (the last one),
// like PyTorch; ties keep the first maximum in row-major window order.
#include <algorithm>
#include <cmath>
#include <vector>

#include "core/parallel.h"
#include "kernels/cpu/pool_2x2.h"
#include "ops/pool.h"

namespace ranvier::cpu {

namespace {

// The in-range taps [lo, hi) of each window of one dimension.
struct Taps {
  std::vector<int64_t> lo, hi;
};
Taps taps(const PoolWindows& w, int64_t size) {
  Taps t;
  const size_t n = w.start.size();
  t.lo.resize(n);
  t.hi.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const int64_t s = w.start[i], st = w.step;
    int64_t lo = s >= 0 ? 0 : (-s + st - 1) / st;
    int64_t hi = s >= size ? 0 : (size - 1 - s) / st + 1;
    hi = std::min(hi, w.count[i]);
    t.lo[i] = lo;
    t.hi[i] = std::max(hi, lo);
  }
  return t;
}

int64_t plane_grain(const PoolSpec& s) {
  int64_t work = s.h * s.w + int64_t(s.rows->start.size() * s.cols->start.size());
  return work >= kGrainSize ? 1 : kGrainSize / std::max<int64_t>(work, 1);
}

template <typename F>
void for_planes(const PoolSpec& s, const char* name, const F& f) {
  RV_DISPATCH_FLOAT(s.dtype, name, [&] {
    using T = scalar_t;
    const Taps tr = taps(*s.rows, s.h), tc = taps(*s.cols, s.w);
    parallel_for(0, s.planes, plane_grain(s), [&](int64_t b, int64_t e) {
      for (int64_t p = b; p < e; ++p) f(T(0), p, tr, tc);
    });
  });
}

// The argmax of one window: taps rows [a0, a1) x cols [b0, b1) of the row/col step grid
// starting at (y0, x0). Returns the flat offset y * w + x and sets the value.
template <typename T>
inline int64_t window_max(const T* x, int64_t w, int64_t y0, int64_t x0, int64_t ystep,
                          int64_t xstep, int64_t a0, int64_t a1, int64_t b0, int64_t b1, T& out) {
  int64_t best = -1;
  T bv = T(0);
  for (int64_t a = a0; a < a1; ++a) {
    const int64_t rowoff = (y0 + a * ystep) * w;
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t off = rowoff + x0 + b * xstep;
      const T v = x[off];
      if (best < 0 || v > bv || v != v) {
        best = off;
        bv = v;
      }
    }
  }
  if (best < 0) {  // no tap inside the image (the argument checks rule this out)
    best = 0;
    bv = x[0];
  }
  out = bv;
  return best;
}

bool is_plain_2x2(const PoolSpec& s) {
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

void max_pool_cpu(const PoolSpec& s, const char* in, char* out, int64_t* idx) {
  const int64_t oh = int64_t(s.rows->start.size()), ow = int64_t(s.cols->start.size());
  const PoolWindows& R = *s.rows;
  const PoolWindows& C = *s.cols;
  const bool plain = is_plain_2x2(s);
  for_planes(s, "max_pool2d", [&](auto zero, int64_t p, const Taps& tr, const Taps& tc) {
    using T = decltype(zero);
    const T* x = reinterpret_cast<const T*>(in) + p * s.h * s.w;
    T* o = out ? reinterpret_cast<T*>(out) + p * oh * ow : nullptr;
    int64_t* ix = idx + p * oh * ow;
    if (plain) return max_pool_2x2(x, s.w, oh, ow, o, ix);
    const int64_t* rs = R.start.data();
    const int64_t* cs = C.start.data();
    for (int64_t i = 0; i < oh; ++i) {
      const int64_t y0 = rs[i], a0 = tr.lo[size_t(i)], a1 = tr.hi[size_t(i)];
      for (int64_t j = 0; j < ow; ++j) {
        T v;
        const int64_t best = window_max(x, s.w, y0, cs[j], R.step, C.step, a0, a1,
                                        tc.lo[size_t(j)], tc.hi[size_t(j)], v);
        ix[i * ow + j] = best;
        if (o) o[i * ow + j] = v;
      }
    }
  });
}

// Backward of a 2x2 / stride 2 window grid, one pair of input rows at a time (cleared, then
// one store per window: the windows do not overlap). Branch-free: choosing among the four
// taps with comparisons cost ~10x more (mispredicted on real data).
template <typename T>
void max_pool_2x2_backward(const T* g, const int64_t* ix, int64_t h, int64_t w, int64_t oh,
                           int64_t ow, T* gi) {
  for (int64_t i = 0; i < oh; ++i) {
    std::fill(gi + 2 * i * w, gi + (2 * i + 2) * w, T(0));
    for (int64_t j = 0; j < ow; ++j) gi[ix[i * ow + j]] = g[i * ow + j];
  }
  std::fill(gi + 2 * oh * w, gi + h * w, T(0));
}

void max_pool_backward_cpu(const PoolSpec& s, const char* grad_out, const int64_t* idx,
                           char* grad_in) {
  const int64_t oh = int64_t(s.rows->start.size()), ow = int64_t(s.cols->start.size());
  const int64_t out_plane = oh * ow;
  const bool plain = is_plain_2x2(s);
  for_planes(s, "max_pool2d_backward", [&](auto zero, int64_t p, const Taps&, const Taps&) {
    using T = decltype(zero);
    const T* g = reinterpret_cast<const T*>(grad_out) + p * out_plane;
    const int64_t* ix = idx + p * out_plane;
    T* gi = reinterpret_cast<T*>(grad_in) + p * s.h * s.w;
    if (plain) return max_pool_2x2_backward(g, ix, s.h, s.w, oh, ow, gi);
    std::fill(gi, gi + s.h * s.w, T(0));
    for (int64_t k = 0; k < out_plane; ++k) gi[ix[k]] += g[k];
  });
}

template <typename T>
T divisor(const PoolSpec& s, int64_t i, int64_t j) {
  return T(s.divisor != 0.0 ? s.divisor : s.rows->div[size_t(i)] * s.cols->div[size_t(j)]);
}

void avg_pool_cpu(const PoolSpec& s, const char* in, char* out) {
  const int64_t oh = int64_t(s.rows->start.size()), ow = int64_t(s.cols->start.size());
  const PoolWindows& R = *s.rows;
  const PoolWindows& C = *s.cols;
  for_planes(s, "avg_pool2d", [&](auto zero, int64_t p, const Taps& tr, const Taps& tc) {
    using T = decltype(zero);
    const T* x = reinterpret_cast<const T*>(in) + p * s.h * s.w;
    T* o = reinterpret_cast<T*>(out) + p * oh * ow;
    for (int64_t i = 0; i < oh; ++i)
      for (int64_t j = 0; j < ow; ++j) {
        T acc = T(0);
        for (int64_t a = tr.lo[i]; a < tr.hi[i]; ++a) {
          const T* row = x + (R.start[i] + a) * s.w + C.start[j];
          for (int64_t b = tc.lo[j]; b < tc.hi[j]; ++b) acc += row[b];
        }
        o[i * ow + j] = acc / divisor<T>(s, i, j);
      }
  });
}

void avg_pool_backward_cpu(const PoolSpec& s, const char* grad_out, char* grad_in) {
  const int64_t oh = int64_t(s.rows->start.size()), ow = int64_t(s.cols->start.size());
  const PoolWindows& R = *s.rows;
  const PoolWindows& C = *s.cols;
  for_planes(s, "avg_pool2d_backward", [&](auto zero, int64_t p, const Taps& tr,
                                           const Taps& tc) {
    using T = decltype(zero);
    const T* g = reinterpret_cast<const T*>(grad_out) + p * oh * ow;
    T* gi = reinterpret_cast<T*>(grad_in) + p * s.h * s.w;
    std::fill(gi, gi + s.h * s.w, T(0));
    for (int64_t i = 0; i < oh; ++i)
      for (int64_t j = 0; j < ow; ++j) {
        const T v = g[i * ow + j] / divisor<T>(s, i, j);
        for (int64_t a = tr.lo[i]; a < tr.hi[i]; ++a) {
          T* row = gi + (R.start[i] + a) * s.w + C.start[j];
          for (int64_t b = tc.lo[j]; b < tc.hi[j]; ++b) row[b] += v;
        }
      }
  });
}

}  // namespace

void register_pool_cpu() {
  max_pool_kernel.set(DeviceType::CPU, &max_pool_cpu);
  max_pool_backward_kernel.set(DeviceType::CPU, &max_pool_backward_cpu);
  avg_pool_kernel.set(DeviceType::CPU, &avg_pool_cpu);
  avg_pool_backward_kernel.set(DeviceType::CPU, &avg_pool_backward_cpu);
}

}  // namespace ranvier::cpu
