// layer_norm's float32 rows on AVX2 + FMA CPUs, written with intrinsics (norm.cpp picks them;
// Note [Layer norm rows on AVX2] in docs/design.md). The sums are norm.cpp's lane_sum: element j
// into double lane j % 8 (lanes 0-3 in one vector, 4-7 in the other), added in the tree
// ((a0 + a4) + (a1 + a5)) + ((a2 + a6) + (a3 + a7)). A row's chain of adds waits on the add
// latency, so several rows run side by side; every row does the same operations wherever it
// falls, so the bits do not depend on how rows are grouped or split across threads.

#include "kernels/cpu/norm_avx2.h"

#include <immintrin.h>

#include <cmath>

#include "core/cpu_capability.h"
#include "kernels/cpu/lane_mask_avx2.h"

namespace ranvier::cpu {

#define RV_AVX2 __attribute__((target("avx2,fma")))

namespace {

// Eight floats as two vectors of four doubles (lanes 0-3, 4-7).
struct D8 {
  __m256d lo, hi;
};

RV_AVX2 inline D8 widen(__m256 v) {
  return {_mm256_cvtps_pd(_mm256_castps256_ps128(v)),
          _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1))};
}

// Eight floats from memory: two converting loads, no lane extraction.
RV_AVX2 inline D8 widen_at(const float* p) {
  return {_mm256_cvtps_pd(_mm_loadu_ps(p)), _mm256_cvtps_pd(_mm_loadu_ps(p + 4))};
}

// lane_sum's tree over the eight lanes.
RV_AVX2 inline double tree(const D8& a) {
  const __m256d s = _mm256_add_pd(a.lo, a.hi);  // a0 + a4, a1 + a5, a2 + a6, a3 + a7
  const __m256d h = _mm256_hadd_pd(s, s);       // (s0 + s1) twice, (s2 + s3) twice
  return _mm_cvtsd_f64(_mm_add_sd(_mm256_castpd256_pd128(h), _mm256_extractf128_pd(h, 1)));
}

// The valid lanes of a row's last 1-7 elements, as masks of doubles.
struct TailMask {
  __m256i f;       // floats
  __m256d lo, hi;  // doubles
};
RV_AVX2 inline TailMask tail_mask(int64_t n) {
  const __m256i f = lane_mask8(n);
  return {f, _mm256_castsi256_pd(_mm256_cvtepi32_epi64(_mm256_castsi256_si128(f))),
          _mm256_castsi256_pd(_mm256_cvtepi32_epi64(_mm256_extracti128_si256(f, 1)))};
}

RV_AVX2 inline void add_masked(D8& acc, const D8& v, const TailMask& m) {
  acc.lo = _mm256_add_pd(acc.lo, _mm256_and_pd(v.lo, m.lo));
  acc.hi = _mm256_add_pd(acc.hi, _mm256_and_pd(v.hi, m.hi));
}

// (x - mean) * invstd (* w) (+ b) in float
template <bool kW, bool kB>
RV_AVX2 inline __m256 normalized(__m256 x, __m256 mean, __m256 invstd, __m256 w, __m256 b) {
  const __m256 v = _mm256_mul_ps(_mm256_sub_ps(x, mean), invstd);
  if constexpr (kW && kB) return _mm256_fmadd_ps(v, w, b);
  if constexpr (kW) return _mm256_mul_ps(v, w);
  if constexpr (kB) return _mm256_add_ps(v, b);
  return v;
}

// Rows r0 .. r0 + R - 1 of the forward.
template <int R, bool kW, bool kB>
RV_AVX2 inline void forward_rows(const NormSpec& p, int64_t r0) {
  const int64_t k = p.c, full = k / 8 * 8;
  const float* x[R];
  for (int r = 0; r < R; ++r) x[r] = static_cast<const float*>(p.x) + (r0 + r) * k;
  const TailMask tm = tail_mask(k - full);
  D8 acc[R];
  // the mean
  for (int r = 0; r < R; ++r) acc[r] = {_mm256_setzero_pd(), _mm256_setzero_pd()};
  for (int64_t j = 0; j < full; j += 8) {
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const D8 v = widen_at(x[r] + j);
      acc[r].lo = _mm256_add_pd(acc[r].lo, v.lo);
      acc[r].hi = _mm256_add_pd(acc[r].hi, v.hi);
    }
  }
  double mu[R];
  __m256d muv[R];
  for (int r = 0; r < R; ++r) {
    if (full < k) add_masked(acc[r], widen(_mm256_maskload_ps(x[r] + full, tm.f)), tm);
    mu[r] = tree(acc[r]) / double(k);
    muv[r] = _mm256_set1_pd(mu[r]);
    acc[r] = {_mm256_setzero_pd(), _mm256_setzero_pd()};
  }
  // the sum of squared deviations
  for (int64_t j = 0; j < full; j += 8) {
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const D8 v = widen_at(x[r] + j);
      const __m256d dl = _mm256_sub_pd(v.lo, muv[r]), dh = _mm256_sub_pd(v.hi, muv[r]);
      acc[r].lo = _mm256_fmadd_pd(dl, dl, acc[r].lo);
      acc[r].hi = _mm256_fmadd_pd(dh, dh, acc[r].hi);
    }
  }
  const float* w = static_cast<const float*>(p.weight);
  const float* b = static_cast<const float*>(p.bias);
  for (int r = 0; r < R; ++r) {
    if (full < k) {
      const D8 v = widen(_mm256_maskload_ps(x[r] + full, tm.f));
      const __m256d dl = _mm256_and_pd(_mm256_sub_pd(v.lo, muv[r]), tm.lo);
      const __m256d dh = _mm256_and_pd(_mm256_sub_pd(v.hi, muv[r]), tm.hi);
      acc[r].lo = _mm256_fmadd_pd(dl, dl, acc[r].lo);
      acc[r].hi = _mm256_fmadd_pd(dh, dh, acc[r].hi);
    }
    const double is = 1.0 / std::sqrt(tree(acc[r]) / double(k) + p.eps);
    const float mu_t = float(mu[r]), is_t = float(is);
    static_cast<float*>(p.mean)[r0 + r] = mu_t;
    static_cast<float*>(p.invstd)[r0 + r] = is_t;
    const __m256 m8 = _mm256_set1_ps(mu_t), i8 = _mm256_set1_ps(is_t);
    float* y = static_cast<float*>(p.y) + (r0 + r) * k;
    int64_t j = 0;
    for (; j < full; j += 8)
      _mm256_storeu_ps(y + j, normalized<kW, kB>(_mm256_loadu_ps(x[r] + j), m8, i8,
                                                 kW ? _mm256_loadu_ps(w + j) : m8,
                                                 kB ? _mm256_loadu_ps(b + j) : m8));
    if (j < k)  // plain stores: a masked one costs many on Zen 3 (lane_mask_avx2.h)
      store_first(y + j,
                  normalized<kW, kB>(_mm256_maskload_ps(x[r] + j, tm.f), m8, i8,
                                     kW ? _mm256_maskload_ps(w + j, tm.f) : m8,
                                     kB ? _mm256_maskload_ps(b + j, tm.f) : m8),
                  k - j);
  }
}

template <bool kW, bool kB>
RV_AVX2 void forward_range(const NormSpec& p, int64_t rb, int64_t re) {
  int64_t r = rb;
  for (; r + 4 <= re; r += 4) forward_rows<4, kW, kB>(p, r);
  for (; r < re; ++r) forward_rows<1, kW, kB>(p, r);
}

// The two sums' terms of eight elements: dxh = g w and dxh (x - mean) invstd, in double.
template <bool kW>
RV_AVX2 inline void grad_terms(const D8& g, const D8& w, const D8& xd, __m256d mean,
                               __m256d invstd, D8& t1, D8& t2) {
  D8 d = g;
  if constexpr (kW) d = {_mm256_mul_pd(d.lo, w.lo), _mm256_mul_pd(d.hi, w.hi)};
  t1 = d;
  t2 = {_mm256_mul_pd(_mm256_mul_pd(d.lo, _mm256_sub_pd(xd.lo, mean)), invstd),
        _mm256_mul_pd(_mm256_mul_pd(d.hi, _mm256_sub_pd(xd.hi, mean)), invstd)};
}

// invstd (g w - s1 - (x - mean) invstd s2) in float
template <bool kW>
RV_AVX2 inline __m256 grad_x8(__m256 g, __m256 w, __m256 x, __m256 mean, __m256 invstd,
                              __m256 s1, __m256 s2) {
  const __m256 d = kW ? _mm256_mul_ps(g, w) : g;
  const __m256 xh = _mm256_mul_ps(_mm256_sub_ps(x, mean), invstd);
  return _mm256_mul_ps(invstd, _mm256_fnmadd_ps(xh, s2, _mm256_sub_ps(d, s1)));
}

// Rows r0 .. r0 + R - 1 of the input gradient: with dxh = g w (exact in double),
// s1 = sum(dxh) / k and s2 = sum(dxh (x - mean) invstd) / k in one pass, then
// gx = invstd (dxh - s1 - (x - mean) invstd s2) in float.
template <int R, bool kW>
RV_AVX2 inline void grad_x_rows(const NormSpec& p, int64_t r0) {
  const int64_t k = p.c, full = k / 8 * 8;
  const float* w = static_cast<const float*>(p.weight);
  const float* x[R];
  const float* g[R];
  __m256d mu[R], is[R];
  D8 s1[R], s2[R];
  for (int r = 0; r < R; ++r) {
    x[r] = static_cast<const float*>(p.x) + (r0 + r) * k;
    g[r] = static_cast<const float*>(p.grad) + (r0 + r) * k;
    mu[r] = _mm256_set1_pd(double(static_cast<const float*>(p.mean)[r0 + r]));
    is[r] = _mm256_set1_pd(double(static_cast<const float*>(p.invstd)[r0 + r]));
    s1[r] = s2[r] = {_mm256_setzero_pd(), _mm256_setzero_pd()};
  }
  const TailMask tm = tail_mask(k - full);
  for (int64_t j = 0; j < full; j += 8) {
    const D8 wv = kW ? widen_at(w + j) : D8{};
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      D8 t1, t2;
      grad_terms<kW>(widen_at(g[r] + j), wv, widen_at(x[r] + j), mu[r], is[r], t1, t2);
      s1[r].lo = _mm256_add_pd(s1[r].lo, t1.lo);
      s1[r].hi = _mm256_add_pd(s1[r].hi, t1.hi);
      s2[r].lo = _mm256_add_pd(s2[r].lo, t2.lo);
      s2[r].hi = _mm256_add_pd(s2[r].hi, t2.hi);
    }
  }
  const __m256 wt = kW && full < k ? _mm256_maskload_ps(w + full, tm.f) : _mm256_setzero_ps();
  for (int r = 0; r < R; ++r) {
    if (full < k) {
      D8 t1, t2;
      grad_terms<kW>(widen(_mm256_maskload_ps(g[r] + full, tm.f)), widen(wt),
                     widen(_mm256_maskload_ps(x[r] + full, tm.f)), mu[r], is[r], t1, t2);
      add_masked(s1[r], t1, tm);
      add_masked(s2[r], t2, tm);
    }
    const float mu_t = float(_mm256_cvtsd_f64(mu[r])), is_t = float(_mm256_cvtsd_f64(is[r]));
    const __m256 m8 = _mm256_set1_ps(mu_t), i8 = _mm256_set1_ps(is_t);
    const __m256 a8 = _mm256_set1_ps(float(tree(s1[r]) / double(k)));
    const __m256 b8 = _mm256_set1_ps(float(tree(s2[r]) / double(k)));
    float* gx = static_cast<float*>(p.grad_x) + (r0 + r) * k;
    int64_t j = 0;
    for (; j < full; j += 8)
      _mm256_storeu_ps(gx + j, grad_x8<kW>(_mm256_loadu_ps(g[r] + j),
                                           kW ? _mm256_loadu_ps(w + j) : m8,
                                           _mm256_loadu_ps(x[r] + j), m8, i8, a8, b8));
    if (j < k)
      store_first(gx + j,
                  grad_x8<kW>(_mm256_maskload_ps(g[r] + j, tm.f), wt,
                              _mm256_maskload_ps(x[r] + j, tm.f), m8, i8, a8, b8),
                  k - j);
  }
}

template <bool kW>
RV_AVX2 void grad_x_range(const NormSpec& p, int64_t rb, int64_t re) {
  int64_t r = rb;
  for (; r + 2 <= re; r += 2) grad_x_rows<2, kW>(p, r);
  for (; r < re; ++r) grad_x_rows<1, kW>(p, r);
}

}  // namespace

bool layer_norm_avx2_usable() { return cpu_capability() == CpuCapability::Avx2; }

void ln_forward_rows_avx2(const NormSpec& p, int64_t rb, int64_t re) {
  if (p.weight && p.bias) forward_range<true, true>(p, rb, re);
  else if (p.weight) forward_range<true, false>(p, rb, re);
  else if (p.bias) forward_range<false, true>(p, rb, re);
  else forward_range<false, false>(p, rb, re);
}

void ln_grad_x_rows_avx2(const NormSpec& p, int64_t rb, int64_t re) {
  if (p.weight) grad_x_range<true>(p, rb, re);
  else grad_x_range<false>(p, rb, re);
}

#undef RV_AVX2

}  // namespace ranvier::cpu
