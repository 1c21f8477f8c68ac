// Direct AVX-512 kernels for 3x3 / stride 1 / one-input-channel convolutions (see
// conv_single_channel.h). Outputs go 16 columns at a time: the nine shifted input vectors of
// an output row block are loaded once (masked loads supply the zero padding) and reused for
// every output channel. Compiled for AVX-512 through function attributes.
#include "kernels/cpu/conv_single_channel.h"

#include <immintrin.h>

// GCC 12 warns about its own intrinsics headers (an undefined register used as a blend source).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace ranvier::cpu {

namespace {

bool cpu_has_avx512() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f");
}

#define RV_AVX512 __attribute__((target("avx512f")))

RV_AVX512 inline __mmask16 lanes(int64_t n) {
  return n >= 16 ? __mmask16(0xFFFF) : n <= 0 ? __mmask16(0) : __mmask16((1u << n) - 1u);
}

// Lanes of a 16-wide load starting at column col0 that fall inside [0, w).
RV_AVX512 inline __mmask16 inside(int64_t col0, int64_t w) {
  const int64_t lo = col0 >= 0 ? 0 : -col0, hi = w - col0 < 16 ? w - col0 : 16;
  if (hi <= lo) return 0;
  return __mmask16(((1u << hi) - 1u) & ~((1u << lo) - 1u));
}

RV_AVX512 void forward_avx512(const ConvGeom& g, int64_t n, const float* img, const float* wt,
                              const float* bias, float* mat) {
  const float* x = img + n * g.h * g.w;
  const int64_t L = g.oh * g.ow;
  float* y = mat + n * g.co * L;
  for (int64_t j0 = 0; j0 < g.ow; j0 += 16) {
    const __mmask16 m = lanes(g.ow - j0);
    const __mmask16 km[3] = {__mmask16(inside(j0 - g.pw, g.w) & m),
                             __mmask16(inside(j0 + 1 - g.pw, g.w) & m),
                             __mmask16(inside(j0 + 2 - g.pw, g.w) & m)};
    for (int64_t i = 0; i < g.oh; ++i) {
      __m512 v[9];
      for (int a = 0; a < 3; ++a) {
        const int64_t r = i + a - g.ph;
        const float* row = x + r * g.w + j0 - g.pw;
        for (int c = 0; c < 3; ++c)
          v[a * 3 + c] = r < 0 || r >= g.h ? _mm512_setzero_ps()
                                           : _mm512_maskz_loadu_ps(km[c], row + c);
      }
      float* dst = y + i * g.ow + j0;
      for (int64_t o = 0; o < g.co; ++o) {
        const float* k = wt + o * 9;
        __m512 acc = _mm512_set1_ps(bias ? bias[o] : 0.0f);
        for (int t = 0; t < 9; ++t) acc = _mm512_fmadd_ps(_mm512_set1_ps(k[t]), v[t], acc);
        _mm512_mask_storeu_ps(dst + o * L, m, acc);
      }
    }
  }
}

// Two output channels at a time (20 accumulators and 9 taps fit the 32 vector registers); the
// taps' column masks depend only on the column block, so they are computed once per block.
RV_AVX512 void weight_grad_avx512(const ConvGeom& g, int64_t n0, int64_t n1, const float* img,
                                  const float* gmat, float* dw, float* db) {
  const int64_t L = g.oh * g.ow, HW = g.h * g.w;
  const int64_t blocks = (g.ow + 15) / 16;
  for (int64_t o0 = 0; o0 < g.co; o0 += 2) {
    const bool two = o0 + 1 < g.co;
    __m512 acc0[9], acc1[9], b0 = _mm512_setzero_ps(), b1 = _mm512_setzero_ps();
    for (int t = 0; t < 9; ++t) acc0[t] = acc1[t] = _mm512_setzero_ps();
    for (int64_t jb = 0; jb < blocks; ++jb) {
      const int64_t j0 = 16 * jb;
      const __mmask16 m = lanes(g.ow - j0);
      const __mmask16 km[3] = {__mmask16(inside(j0 - g.pw, g.w) & m),
                               __mmask16(inside(j0 + 1 - g.pw, g.w) & m),
                               __mmask16(inside(j0 + 2 - g.pw, g.w) & m)};
      for (int64_t n = n0; n < n1; ++n) {
        const float* x = img + n * HW + j0 - g.pw;
        const float* gy0 = gmat + (n * g.co + o0) * L + j0;
        const float* gy1 = two ? gy0 + L : gy0;
        for (int64_t i = 0; i < g.oh; ++i) {
          const __m512 g0 = _mm512_maskz_loadu_ps(m, gy0 + i * g.ow);
          const __m512 g1 = two ? _mm512_maskz_loadu_ps(m, gy1 + i * g.ow) : _mm512_setzero_ps();
          b0 = _mm512_add_ps(b0, g0);
          b1 = _mm512_add_ps(b1, g1);
          for (int a = 0; a < 3; ++a) {
            const int64_t r = i + a - g.ph;
            if (r < 0 || r >= g.h) continue;  // zero taps add nothing
            const float* row = x + r * g.w;
            for (int c = 0; c < 3; ++c) {
              const __m512 v = _mm512_maskz_loadu_ps(km[c], row + c);
              acc0[a * 3 + c] = _mm512_fmadd_ps(g0, v, acc0[a * 3 + c]);
              acc1[a * 3 + c] = _mm512_fmadd_ps(g1, v, acc1[a * 3 + c]);
            }
          }
        }
      }
    }
    for (int t = 0; t < 9; ++t) dw[o0 * 9 + t] = _mm512_reduce_add_ps(acc0[t]);
    if (db) db[o0] = _mm512_reduce_add_ps(b0);
    if (two) {
      for (int t = 0; t < 9; ++t) dw[(o0 + 1) * 9 + t] = _mm512_reduce_add_ps(acc1[t]);
      if (db) db[o0 + 1] = _mm512_reduce_add_ps(b1);
    }
  }
}

}  // namespace

bool single_channel_applies(const ConvGeom& g) {
  static const bool avx512 = cpu_has_avx512();
  return avx512 && g.dtype == DType::Float32 && g.groups == 1 && g.ci == 1 && g.kh == 3 &&
         g.kw == 3 && g.sh == 1 && g.sw == 1 && g.dh == 1 && g.dw == 1 && g.ph <= 2 &&
         g.pw <= 2 && g.oh == g.h + 2 * g.ph - 2 && g.ow == g.w + 2 * g.pw - 2;
}

void single_channel_forward(const ConvGeom& g, int64_t n, const float* img, const float* wt,
                            const float* bias, float* mat) {
  forward_avx512(g, n, img, wt, bias, mat);
}

void single_channel_weight_grad(const ConvGeom& g, int64_t n0, int64_t n1, const float* img,
                                const float* gmat, float* dw, float* db) {
  weight_grad_avx512(g, n0, n1, img, gmat, dw, db);
}

}  // namespace ranvier::cpu
