// AVX2 + FMA float32 row passes of the CPU attention kernels (see attention_rows.h), for CPUs
// without AVX-512 (or when RANVIER_CPU_CAPABILITY=avx2 caps the level). The portable passes in
// attention.cpp cost a pass per step (scale, pad, max, exp, sum, normalise) over rows GCC
// keeps in 16-float generic vectors; these fuse the steps as the AVX-512 copy does.
//
// A row is walked 16 floats at a time as two 8-float halves (lanes 0-7 and 8-15 of the
// AVX-512 copy's vector), full blocks with plain loads and stores, the block at a row's end
// under masks (_mm256_maskload_ps / _mm256_maskstore_ps: nothing past the room is read or
// written). Max and sums are kept per lane and folded lane l with l + 8, then l + 4, l + 2,
// l + 1, the order of the AVX-512 copy's reductions; exp8 is its exp16 at half the width. So
// the two copies give the same bits, and a result depends only on its row.
#include "kernels/cpu/attention_rows.h"
#include "core/cpu_capability.h"
#include "kernels/cpu/exp_avx2.h"
#include "kernels/cpu/lane_mask_avx2.h"

#include <immintrin.h>

#include <cmath>
#include <limits>

namespace ranvier::cpu {

bool attention_rows_avx2_usable() {
  return cpu_uses_avx2();
}

#define RV_AVX2 __attribute__((target("avx2,fma")))

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// The 16 lanes of one block of a row.
struct F16 {
  __m256 lo, hi;
};

// lane_mask8 as floats (for the blends)
RV_AVX2 inline __m256 lanes8(int64_t n) { return _mm256_castsi256_ps(lane_mask8(n)); }

// Floats [0, n) of p (n < 16 reads no further), zeros in the other lanes.
RV_AVX2 inline F16 load16(const float* p, int64_t n) {
  if (n >= 16) return {_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8)};
  const __m256 lo = _mm256_maskload_ps(p, _mm256_castps_si256(lanes8(n)));
  const __m256 hi =
      n > 8 ? _mm256_maskload_ps(p + 8, _mm256_castps_si256(lanes8(n - 8))) : _mm256_setzero_ps();
  return {lo, hi};
}
// Lanes [0, n) of v to p (n < 16 writes no further).
RV_AVX2 inline void store16(float* p, int64_t n, F16 v) {
  if (n >= 16) {
    _mm256_storeu_ps(p, v.lo);
    _mm256_storeu_ps(p + 8, v.hi);
    return;
  }
  _mm256_maskstore_ps(p, _mm256_castps_si256(lanes8(n)), v.lo);
  if (n > 8) _mm256_maskstore_ps(p + 8, _mm256_castps_si256(lanes8(n - 8)), v.hi);
}
// v in lanes [0, n), `other` in the rest.
RV_AVX2 inline F16 keep16(F16 v, int64_t n, __m256 other) {
  if (n >= 16) return v;
  return {_mm256_blendv_ps(other, v.lo, lanes8(n)), _mm256_blendv_ps(other, v.hi, lanes8(n - 8))};
}

RV_AVX2 inline float fold_add(F16 v) {
  __m256 t = _mm256_add_ps(v.lo, v.hi);
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}
RV_AVX2 inline float fold_max(F16 v) {
  __m256 t = _mm256_max_ps(v.lo, v.hi);
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}

// exp(v * scale - m) per lane.
RV_AVX2 inline F16 exp_shifted(F16 v, __m256 sc, __m256 m) {
  return {exp8(_mm256_sub_ps(_mm256_mul_ps(v.lo, sc), m)),
          exp8(_mm256_sub_ps(_mm256_mul_ps(v.hi, sc), m))};
}

inline int64_t keys_of(int64_t i, bool causal, int64_t s) {
  return causal ? (s < i + 1 ? s : i + 1) : s;
}

RV_AVX2 float softmax_row(float* row, int64_t jend, int64_t cap, float scale) {
  const __m256 sc = _mm256_set1_ps(scale), ninf = _mm256_set1_ps(kNegInf);
  F16 mx = {ninf, ninf};
  for (int64_t j = 0; j < jend; j += 16) {
    const F16 raw = load16(row + j, jend - j);
    const F16 v = keep16({_mm256_mul_ps(raw.lo, sc), _mm256_mul_ps(raw.hi, sc)}, jend - j, ninf);
    // a NaN score is skipped (its exp makes the row NaN below)
    mx.lo = _mm256_max_ps(v.lo, mx.lo);
    mx.hi = _mm256_max_ps(v.hi, mx.hi);
  }
  const float m = fold_max(mx);
  if (!(m > kNegInf)) {
    const F16 zeros = {_mm256_setzero_ps(), _mm256_setzero_ps()};
    for (int64_t j = 0; j < cap; j += 16) store16(row + j, cap - j, zeros);
    return kNegInf;
  }
  const __m256 vm = _mm256_set1_ps(m), zero = _mm256_setzero_ps();
  F16 sum = {zero, zero};
  for (int64_t j = 0; j < jend; j += 16) {
    const F16 e = keep16(exp_shifted(load16(row + j, jend - j), sc, vm), jend - j, zero);
    store16(row + j, cap - j, e);
    sum.lo = _mm256_add_ps(sum.lo, e.lo);
    sum.hi = _mm256_add_ps(sum.hi, e.hi);
  }
  const float l = fold_add(sum);
  const __m256 inv = _mm256_set1_ps(1.0f / l);
  // every float of the room: the probabilities, then zeros (from the masked loads) past jend
  for (int64_t j = 0; j < cap; j += 16) {
    const F16 e = load16(row + j, (jend < cap ? jend : cap) - j);
    store16(row + j, cap - j, {_mm256_mul_ps(e.lo, inv), _mm256_mul_ps(e.hi, inv)});
  }
  return m + std::log(l);
}

}  // namespace

RV_AVX2 void attn_softmax_rows_avx2(float* sc, int64_t n, int64_t se, int64_t i0, bool causal,
                                    int64_t s, float scale, float* lse) {
  for (int64_t r = 0; r < n; ++r)
    lse[r] = softmax_row(sc + r * se, keys_of(i0 + r, causal, s), se, scale);
}

RV_AVX2 void attn_probs_rows_avx2(float* P, int64_t n, int64_t se, int64_t i0, bool causal,
                                  int64_t s, float scale, const float* lse) {
  const __m256 sc = _mm256_set1_ps(scale), zero = _mm256_setzero_ps();
  for (int64_t r = 0; r < n; ++r) {
    float* row = P + r * se;
    const int64_t jend = lse[r] == kNegInf ? 0 : keys_of(i0 + r, causal, s);
    const __m256 vl = _mm256_set1_ps(lse[r]);
    for (int64_t j = 0; j < se; j += 16) {
      const F16 e = jend - j > 0
                        ? keep16(exp_shifted(load16(row + j, jend - j), sc, vl), jend - j, zero)
                        : F16{zero, zero};
      store16(row + j, se - j, e);
    }
  }
}

RV_AVX2 void attn_ds_rows_avx2(const float* P, float* dP, int64_t n, int64_t se, int64_t h,
                               int64_t se0, const float* g, int64_t gs, const float* out,
                               int64_t os, int64_t ev, const float* lse, float scale) {
  const __m256 sc = _mm256_set1_ps(scale), zero = _mm256_setzero_ps();
  for (int64_t r = 0; r < n; ++r) {
    float d = 0.0f;
    if (lse[r] != kNegInf) {
      F16 acc = {zero, zero};
      const float* a = g + r * gs;
      const float* b = out + r * os;
      for (int64_t c = 0; c < ev; c += 16) {
        const F16 x = load16(a + c, ev - c), y = load16(b + c, ev - c);
        acc.lo = _mm256_fmadd_ps(x.lo, y.lo, acc.lo);
        acc.hi = _mm256_fmadd_ps(x.hi, y.hi, acc.hi);
      }
      d = fold_add(acc);
    }
    const __m256 vd = _mm256_set1_ps(d);
    const float* pr = P + r * se;
    float* dr = dP + r * se;
    const int64_t jn = r < h ? se0 : se;
    for (int64_t j = 0; j < se; j += 16) {
      F16 t = {zero, zero};
      if (jn - j > 0) {
        const F16 p = load16(pr + j, jn - j), q = load16(dr + j, jn - j);
        t.lo = _mm256_mul_ps(_mm256_mul_ps(p.lo, _mm256_sub_ps(q.lo, vd)), sc);
        t.hi = _mm256_mul_ps(_mm256_mul_ps(p.hi, _mm256_sub_ps(q.hi, vd)), sc);
        t = keep16(t, jn - j, zero);
      }
      store16(dr + j, se - j, t);
    }
  }
}

#undef RV_AVX2

}  // namespace ranvier::cpu
