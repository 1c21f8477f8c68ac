// AVX-512 float32 row passes of the CPU attention kernels (see attention_rows.h). Rows are
// walked 16 floats at a time with masks for the part past a row's keys and for the end of its
// room, so no element runs alone and no partial vector is stored and then reloaded. Compiled
// for AVX-512 through function attributes; callers check the CPU first.
//
// exp is fast_math.h's exp_f written with intrinsics: the argument clamped to [-87, 88], then
// 2^n e^r with the same reduction and polynomial.
#include "kernels/cpu/attention_rows.h"
#include "core/cpu_capability.h"

#include <immintrin.h>

#include <cmath>
#include <limits>

// GCC 12 warns about its own intrinsics headers (an undefined register used as a blend source).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace ranvier::cpu {

bool attention_rows_avx512_usable() {
  return cpu_uses_avx512();
}

#define RV_AVX512 __attribute__((target("avx512f")))

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// Lanes [0, n) of a 16-float vector (all for n >= 16, none for n <= 0).
RV_AVX512 inline __mmask16 lanes(int64_t n) {
  if (n >= 16) return __mmask16(0xFFFF);
  return n <= 0 ? __mmask16(0) : __mmask16((1u << n) - 1u);
}

RV_AVX512 inline __m512 exp16(__m512 x) {
  // max / min with the constant first keep a NaN argument (vmaxps returns its second operand
  // when either is NaN)
  x = _mm512_min_ps(_mm512_set1_ps(88.0f), _mm512_max_ps(_mm512_set1_ps(-87.0f), x));
  const __m512 shifter = _mm512_set1_ps(12582912.0f);
  const __m512 n =
      _mm512_sub_ps(_mm512_fmadd_ps(x, _mm512_set1_ps(1.44269504088896341f), shifter), shifter);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fmadd_ps(n, _mm512_set1_ps(2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  const __m512 e =
      _mm512_add_ps(_mm512_fmadd_ps(_mm512_mul_ps(p, r), r, r), _mm512_set1_ps(1.0f));
  const __m512i bits =
      _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvttps_epi32(n), _mm512_set1_epi32(127)), 23);
  return _mm512_mul_ps(e, _mm512_castsi512_ps(bits));
}

inline int64_t keys_of(int64_t i, bool causal, int64_t s) {
  return causal ? (s < i + 1 ? s : i + 1) : s;
}

// Zeros over [from, cap) of a row.
RV_AVX512 inline void zero_tail(float* row, int64_t from, int64_t cap) {
  for (int64_t j = from; j < cap; j += 16)
    _mm512_mask_storeu_ps(row + j, lanes(cap - j), _mm512_setzero_ps());
}

RV_AVX512 float softmax_row(float* row, int64_t jend, int64_t cap, float scale) {
  const __m512 sc = _mm512_set1_ps(scale), ninf = _mm512_set1_ps(kNegInf);
  __m512 mx = ninf;
  for (int64_t j = 0; j < jend; j += 16) {
    // past the row's keys -inf after the scale (a negative scale would make a padded -inf +inf)
    const __mmask16 k = lanes(jend - j);
    const __m512 v =
        _mm512_mask_mov_ps(ninf, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, row + j), sc));
    mx = _mm512_max_ps(v, mx);  // a NaN score is skipped (its exp makes the row NaN below)
  }
  const float m = _mm512_reduce_max_ps(mx);
  if (!(m > kNegInf)) {
    zero_tail(row, 0, cap);
    return kNegInf;
  }
  const __m512 vm = _mm512_set1_ps(m);
  __m512 sum = _mm512_setzero_ps();
  for (int64_t j = 0; j < jend; j += 16) {
    const __mmask16 k = lanes(jend - j);
    const __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(k, row + j), sc);
    const __m512 e = _mm512_maskz_mov_ps(k, exp16(_mm512_sub_ps(v, vm)));
    _mm512_mask_storeu_ps(row + j, lanes(cap - j), e);
    sum = _mm512_add_ps(sum, e);
  }
  const float l = _mm512_reduce_add_ps(sum);
  const __m512 inv = _mm512_set1_ps(1.0f / l);
  for (int64_t j = 0; j < cap; j += 16) {
    const __mmask16 k = lanes(cap - j);
    _mm512_mask_storeu_ps(row + j, k,
                          _mm512_mul_ps(_mm512_maskz_loadu_ps(k & lanes(jend - j), row + j), inv));
  }
  return m + std::log(l);
}

}  // namespace

RV_AVX512 void attn_softmax_rows_avx512(float* sc, int64_t n, int64_t se, int64_t i0,
                                        bool causal, int64_t s, float scale, float* lse) {
  for (int64_t r = 0; r < n; ++r)
    lse[r] = softmax_row(sc + r * se, keys_of(i0 + r, causal, s), se, scale);
}

RV_AVX512 void attn_probs_rows_avx512(float* P, int64_t n, int64_t se, int64_t i0, bool causal,
                                      int64_t s, float scale, const float* lse) {
  const __m512 sc = _mm512_set1_ps(scale);
  for (int64_t r = 0; r < n; ++r) {
    float* row = P + r * se;
    const int64_t jend = lse[r] == kNegInf ? 0 : keys_of(i0 + r, causal, s);
    const __m512 vl = _mm512_set1_ps(lse[r]);
    for (int64_t j = 0; j < se; j += 16) {
      const __mmask16 room = lanes(se - j), k = room & lanes(jend - j);
      const __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(k, row + j), sc);
      _mm512_mask_storeu_ps(row + j, room, _mm512_maskz_mov_ps(k, exp16(_mm512_sub_ps(v, vl))));
    }
  }
}

RV_AVX512 void attn_ds_rows_avx512(const float* P, float* dP, int64_t n, int64_t se, int64_t h,
                                   int64_t se0, const float* g, int64_t gs, const float* out,
                                   int64_t os, int64_t ev, const float* lse, float scale) {
  const __m512 sc = _mm512_set1_ps(scale);
  for (int64_t r = 0; r < n; ++r) {
    float d = 0.0f;
    if (lse[r] != kNegInf) {
      __m512 acc = _mm512_setzero_ps();
      const float* a = g + r * gs;
      const float* b = out + r * os;
      for (int64_t c = 0; c < ev; c += 16) {
        const __mmask16 k = lanes(ev - c);
        acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, a + c), _mm512_maskz_loadu_ps(k, b + c),
                              acc);
      }
      d = _mm512_reduce_add_ps(acc);
    }
    const __m512 vd = _mm512_set1_ps(d);
    const float* pr = P + r * se;
    float* dr = dP + r * se;
    const int64_t jn = r < h ? se0 : se;
    for (int64_t j = 0; j < se; j += 16) {
      const __mmask16 room = lanes(se - j), k = room & lanes(jn - j);
      const __m512 t = _mm512_mul_ps(
          _mm512_mul_ps(_mm512_maskz_loadu_ps(k, pr + j),
                        _mm512_sub_ps(_mm512_maskz_loadu_ps(k, dr + j), vd)),
          sc);
      _mm512_mask_storeu_ps(dr + j, room, _mm512_maskz_mov_ps(k, t));
    }
  }
}

}  // namespace ranvier::cpu
