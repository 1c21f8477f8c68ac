// CPU kernels of the pooling family (PoolSpec, ops/pool.h): max (values + argmax) and average
// forward, and their backward passes. Work is split by plane, each plane done by one thread in
// a fixed order, so results do not depend on the thread count. Max: NaN wins (the last one),
// like PyTorch; ties keep the first maximum in row-major window order.
#include <algorithm>
#include <cmath>
#include <vector>

#include "core/parallel.h"
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

void max_pool_cpu(const PoolSpec& s, const char* in, char* out, int64_t* idx) {
  const int64_t oh = int64_t(s.rows->start.size()), ow = int64_t(s.cols->start.size());
  const PoolWindows& R = *s.rows;
  const PoolWindows& C = *s.cols;
  for_planes(s, "max_pool2d", [&](auto zero, int64_t p, const Taps& tr, const Taps& tc) {
    using T = decltype(zero);
    const T* x = reinterpret_cast<const T*>(in) + p * s.h * s.w;
    T* o = out ? reinterpret_cast<T*>(out) + p * oh * ow : nullptr;
    int64_t* ix = idx + p * oh * ow;
    for (int64_t i = 0; i < oh; ++i)
      for (int64_t j = 0; j < ow; ++j) {
        int64_t best = -1;
        T bv = T(0);
        for (int64_t a = tr.lo[i]; a < tr.hi[i]; ++a) {
          const int64_t y = R.start[i] + a * R.step;
          const T* row = x + y * s.w;
          for (int64_t b = tc.lo[j]; b < tc.hi[j]; ++b) {
            const int64_t xx = C.start[j] + b * C.step;
            const T v = row[xx];
            if (best < 0 || v > bv || std::isnan(v)) {
              best = y * s.w + xx;
              bv = v;
            }
          }
        }
        if (best < 0) {  // no tap inside the image (the argument checks rule this out)
          best = 0;
          bv = x[0];
        }
        ix[i * ow + j] = best;
        if (o) o[i * ow + j] = bv;
      }
  });
}

void max_pool_backward_cpu(const PoolSpec& s, const char* grad_out, const int64_t* idx,
                           char* grad_in) {
  const int64_t out_plane = int64_t(s.rows->start.size() * s.cols->start.size());
  for_planes(s, "max_pool2d_backward", [&](auto zero, int64_t p, const Taps&, const Taps&) {
    using T = decltype(zero);
    const T* g = reinterpret_cast<const T*>(grad_out) + p * out_plane;
    const int64_t* ix = idx + p * out_plane;
    T* gi = reinterpret_cast<T*>(grad_in) + p * s.h * s.w;
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
