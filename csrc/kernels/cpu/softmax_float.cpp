// Float32 softmax / log_softmax kernels (forward and backward), vectorised. The reduction dim
// is either the last (inner == 1: each row is contiguous, reduced in 16 lanes) or has a stride
// (inner > 1: up to 64 adjacent columns of a [n, inner] slab are reduced side by side, each in
// its own lane). Sums run in double lanes combined in a fixed order, so results depend only
// on the shape, never on the thread count. exp is vec_math.h's.
//
// NaN needs no test of its own: the max skips NaN, exp(NaN - max) is NaN, so the row's sum and
// every output of that row are NaN; an all -inf row gives 0 / 0 = NaN, as before.
#pragma GCC optimize("no-trapping-math")  // see kernels/cpu/fast_math.h
#include "kernels/cpu/softmax_float.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/parallel.h"
#include "kernels/cpu/vec_math.h"

namespace ranvier::cpu {

namespace {

constexpr int kLanes = 16;
constexpr int64_t kCols = 64;
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// Shift used for exp: the max, or 0 when the max is -inf (an all -inf or empty row).
RV_ALWAYS_INLINE float shift_of(float mx) { return mx == kNegInf ? 0.0f : mx; }


// GCC's vector types: written as arrays of 16 scalar lanes, the max stayed scalar and the sums
// kept their lanes on the stack.
typedef float Lanes16 __attribute__((vector_size(64)));
typedef float Lanes8f __attribute__((vector_size(32)));
typedef double Lanes8d __attribute__((vector_size(64)));

// acc0 / acc1 += the 16 floats at a (times those at b, when given), widened to double.
RV_ALWAYS_INLINE void add_lanes(const float* a, const float* b, Lanes8d& acc0, Lanes8d& acc1) {
  Lanes8f lo, hi;
  std::memcpy(&lo, a, sizeof(lo));
  std::memcpy(&hi, a + 8, sizeof(hi));
  Lanes8d dlo = __builtin_convertvector(lo, Lanes8d), dhi = __builtin_convertvector(hi, Lanes8d);
  if (b) {
    std::memcpy(&lo, b, sizeof(lo));
    std::memcpy(&hi, b + 8, sizeof(hi));
    dlo *= __builtin_convertvector(lo, Lanes8d);
    dhi *= __builtin_convertvector(hi, Lanes8d);
  }
  acc0 += dlo;
  acc1 += dhi;
}

RV_ALWAYS_INLINE double combine(const Lanes8d& acc0, const Lanes8d& acc1) {
  double s = 0;
  for (int j = 0; j < 8; ++j) s += acc0[j];
  for (int j = 0; j < 8; ++j) s += acc1[j];
  return s;
}

RV_MULTIVERSION float row_max_f(const float* x, int64_t n) {
  Lanes16 m;
  for (int j = 0; j < kLanes; ++j) m[j] = kNegInf;
  int64_t k = 0;
  for (; k + kLanes <= n; k += kLanes) {
    Lanes16 v;
    std::memcpy(&v, x + k, sizeof(v));
    m = v > m ? v : m;
  }
  float mx = kNegInf;
  for (int j = 0; j < kLanes; ++j) mx = m[j] > mx ? m[j] : mx;
  for (; k < n; ++k) mx = x[k] > mx ? x[k] : mx;
  return mx;
}

// y = exp(x - shift); returns the sum of y.
RV_MULTIVERSION double row_exp_sum_f(const float* x, float* y, int64_t n, float shift) {
  Lanes8d acc0 = {}, acc1 = {};
  int64_t k = 0;
  for (; k + kLanes <= n; k += kLanes) {
    for (int j = 0; j < kLanes; ++j) y[k + j] = vm::exp(x[k + j] - shift);
    add_lanes(y + k, nullptr, acc0, acc1);
  }
  double s = combine(acc0, acc1);
  for (; k < n; ++k) {
    y[k] = vm::exp(x[k] - shift);
    s += double(y[k]);
  }
  return s;
}

RV_MULTIVERSION void row_scale_f(float* y, int64_t n, float scale) {
  for (int64_t k = 0; k < n; ++k) y[k] *= scale;
}

RV_MULTIVERSION void row_log_out_f(const float* x, float* y, int64_t n, float shift, float lse) {
  for (int64_t k = 0; k < n; ++k) y[k] = (x[k] - shift) - lse;
}

// sum(a * b) (b == nullptr: sum(a)) in double lanes.
RV_MULTIVERSION double row_dot_f(const float* a, const float* b, int64_t n) {
  Lanes8d acc0 = {}, acc1 = {};
  int64_t k = 0;
  for (; k + kLanes <= n; k += kLanes) add_lanes(a + k, b ? b + k : nullptr, acc0, acc1);
  double s = combine(acc0, acc1);
  for (; k < n; ++k) s += b ? double(a[k]) * double(b[k]) : double(a[k]);
  return s;
}

// softmax: gx = y (g - dot); log_softmax: gx = g - exp(y) dot.
RV_MULTIVERSION void row_grad_f(const float* y, const float* g, float* gx, int64_t n, float dot,
                                bool log) {
  if (log) {
    for (int64_t k = 0; k < n; ++k) gx[k] = g[k] - vm::exp(y[k]) * dot;
  } else {
    for (int64_t k = 0; k < n; ++k) gx[k] = y[k] * (g[k] - dot);
  }
}

void forward_row(const float* x, float* y, int64_t n, bool log) {
  const float shift = shift_of(row_max_f(x, n));
  const double sum = row_exp_sum_f(x, y, n, shift);
  if (log) row_log_out_f(x, y, n, shift, float(std::log(sum)));
  else row_scale_f(y, n, float(1.0 / sum));
}

// Columns [0, w) of a slab whose rows are `inner` apart: each column reduced over the n rows.
RV_MULTIVERSION void forward_cols_f(const float* x, float* y, int64_t n, int64_t inner,
                                    int64_t w, bool log) {
  float mx[kCols], shift[kCols], fin[kCols];
  double sum[kCols];
  for (int64_t j = 0; j < w; ++j) {
    mx[j] = kNegInf;
    sum[j] = 0;
  }
  for (int64_t k = 0; k < n; ++k) {
    const float* xr = x + k * inner;
    for (int64_t j = 0; j < w; ++j) mx[j] = xr[j] > mx[j] ? xr[j] : mx[j];
  }
  for (int64_t j = 0; j < w; ++j) shift[j] = shift_of(mx[j]);
  for (int64_t k = 0; k < n; ++k) {
    const float* xr = x + k * inner;
    float* yr = y + k * inner;
    for (int64_t j = 0; j < w; ++j) {
      const float e = vm::exp(xr[j] - shift[j]);
      yr[j] = e;
      sum[j] += double(e);
    }
  }
  for (int64_t j = 0; j < w; ++j) fin[j] = log ? float(std::log(sum[j])) : float(1.0 / sum[j]);
  for (int64_t k = 0; k < n; ++k) {
    const float* xr = x + k * inner;
    float* yr = y + k * inner;
    if (log) {
      for (int64_t j = 0; j < w; ++j) yr[j] = (xr[j] - shift[j]) - fin[j];
    } else {
      for (int64_t j = 0; j < w; ++j) yr[j] *= fin[j];
    }
  }
}

RV_MULTIVERSION void backward_cols_f(const float* y, const float* g, float* gx, int64_t n,
                                     int64_t inner, int64_t w, bool log) {
  double acc[kCols];
  float dot[kCols];
  for (int64_t j = 0; j < w; ++j) acc[j] = 0;
  for (int64_t k = 0; k < n; ++k) {
    const float* yr = y + k * inner;
    const float* gr = g + k * inner;
    if (log) {
      for (int64_t j = 0; j < w; ++j) acc[j] += double(gr[j]);
    } else {
      for (int64_t j = 0; j < w; ++j) acc[j] += double(gr[j]) * double(yr[j]);
    }
  }
  for (int64_t j = 0; j < w; ++j) dot[j] = float(acc[j]);
  for (int64_t k = 0; k < n; ++k) {
    const float* yr = y + k * inner;
    const float* gr = g + k * inner;
    float* gxr = gx + k * inner;
    if (log) {
      for (int64_t j = 0; j < w; ++j) gxr[j] = gr[j] - vm::exp(yr[j]) * dot[j];
    } else {
      for (int64_t j = 0; j < w; ++j) gxr[j] = yr[j] * (gr[j] - dot[j]);
    }
  }
}

// Calls f(offset of the block's first element, width) for every column block of every slab,
// spread over the threads.
template <typename F>
void for_column_blocks(const SoftmaxSpec& s, const F& f) {
  const int64_t blocks = (s.inner + kCols - 1) / kCols;
  const int64_t grain = std::max<int64_t>(1, kGrainSize / std::max<int64_t>(s.n * kCols, 1));
  parallel_for(0, s.outer * blocks, grain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const int64_t o = i / blocks, c0 = (i % blocks) * kCols;
      f(o * s.n * s.inner + c0, std::min(kCols, s.inner - c0));
    }
  });
}

template <typename F>
void for_rows(const SoftmaxSpec& s, const F& f) {
  const int64_t grain = std::max<int64_t>(1, kGrainSize / std::max<int64_t>(s.n, 1));
  parallel_for(0, s.outer, grain, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) f(r * s.n);
  });
}

}  // namespace

void softmax_forward_f32(const SoftmaxSpec& s) {
  const float* in = static_cast<const float*>(s.in);
  float* out = static_cast<float*>(s.out);
  if (s.inner == 1) {
    for_rows(s, [&](int64_t off) { forward_row(in + off, out + off, s.n, s.log); });
  } else {
    for_column_blocks(s, [&](int64_t off, int64_t w) {
      forward_cols_f(in + off, out + off, s.n, s.inner, w, s.log);
    });
  }
}

void softmax_backward_f32(const SoftmaxSpec& s) {
  const float* y = static_cast<const float*>(s.in);
  const float* g = static_cast<const float*>(s.grad);
  float* gx = static_cast<float*>(s.out);
  if (s.inner == 1) {
    for_rows(s, [&](int64_t off) {
      const float dot = float(row_dot_f(g + off, s.log ? nullptr : y + off, s.n));
      row_grad_f(y + off, g + off, gx + off, s.n, dot, s.log);
    });
  } else {
    for_column_blocks(s, [&](int64_t off, int64_t w) {
      backward_cols_f(y + off, g + off, gx + off, s.n, s.inner, w, s.log);
    });
  }
}

}  // namespace ranvier::cpu
