// AVX-512 float versions of the Winograd F(2x2, 3x3) tile transforms (see conv_winograd.cpp,
// which holds the portable versions and the layouts): one row of tiles at a time, 16 tiles per
// vector (masked at the row end). Compiled for AVX-512 through function attributes; callers
// check the CPU first (winograd_avx512_usable()).
#include <immintrin.h>

#include <cstdint>
#include <algorithm>

#include "kernels/cpu/relu_pool_avx512.h"
#include "core/cpu_capability.h"

// GCC 12 warns about its own intrinsics headers (an undefined register used as a blend source).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace ranvier::cpu {

bool winograd_avx512_usable() {
  return cpu_uses_avx512();
}

#define RV_AVX512 __attribute__((target("avx512f")))

namespace {

RV_AVX512 inline __mmask16 first(int64_t n) {
  return n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1u);
}

}  // namespace

// Lanes k of a 16-wide load at column `col0` of a row of w columns that lie inside the row.
RV_AVX512 inline __mmask16 inside(int64_t col0, int64_t w) {
  const int64_t lo = col0 >= 0 ? 0 : -col0, hi = w - col0 < 16 ? w - col0 : 16;
  if (hi <= lo) return 0;
  return __mmask16(((1u << hi) - 1u) & ~((1u << lo) - 1u));
}

namespace {

// One padded input row's part of d B: from its columns 2t, 2t + 1, 2t + 2, 2t + 3 of each tile.
RV_AVX512 inline void input_row_dB(__m512 e, __m512 o, __m512 e1, __m512 o1, __m512 a[4]) {
  a[0] = _mm512_sub_ps(e, e1);
  a[1] = _mm512_add_ps(o, e1);
  a[2] = _mm512_sub_ps(e1, o);
  a[3] = _mm512_sub_ps(o, o1);
}

// Bt (d B) of the four rows in a, stored to the 16 planes of V from v (planes kstride apart).
RV_AVX512 inline void store_input_tiles(const __m512 a[4][4], float* v, int64_t kstride,
                                        __mmask16 m) {
  for (int j = 0; j < 4; ++j) {
    _mm512_mask_storeu_ps(v + (0 * 4 + j) * kstride, m, _mm512_sub_ps(a[0][j], a[2][j]));
    _mm512_mask_storeu_ps(v + (1 * 4 + j) * kstride, m, _mm512_add_ps(a[1][j], a[2][j]));
    _mm512_mask_storeu_ps(v + (2 * 4 + j) * kstride, m, _mm512_sub_ps(a[2][j], a[1][j]));
    _mm512_mask_storeu_ps(v + (3 * 4 + j) * kstride, m, _mm512_sub_ps(a[1][j], a[3][j]));
  }
}

// A dY At of blocks whose even / odd columns of the two rows are e[0], od[0] and e[1], od[1],
// stored to the 16 planes of Z from z.
RV_AVX512 inline void store_grad_tiles(const __m512 e[2], const __m512 od[2], float* z,
                                       int64_t kstride, __mmask16 m) {
  const __m512 zero = _mm512_setzero_ps();
  const __m512 a[4][2] = {{e[0], od[0]},
                          {_mm512_add_ps(e[0], e[1]), _mm512_add_ps(od[0], od[1])},
                          {_mm512_sub_ps(e[0], e[1]), _mm512_sub_ps(od[0], od[1])},
                          {_mm512_sub_ps(zero, e[1]), _mm512_sub_ps(zero, od[1])}};
  for (int i = 0; i < 4; ++i) {
    _mm512_mask_storeu_ps(z + (i * 4 + 0) * kstride, m, a[i][0]);
    _mm512_mask_storeu_ps(z + (i * 4 + 1) * kstride, m, _mm512_add_ps(a[i][0], a[i][1]));
    _mm512_mask_storeu_ps(z + (i * 4 + 2) * kstride, m, _mm512_sub_ps(a[i][0], a[i][1]));
    _mm512_mask_storeu_ps(z + (i * 4 + 3) * kstride, m, _mm512_sub_ps(zero, a[i][1]));
  }
}

// Narrow maps (tw <= 7 tiles a row, e.g. 14 x 14 outputs): one vector holds two rows of tiles,
// lanes [0, tw) the first, [tw, 2 tw) the second, whose tiles are adjacent in V. The columns a
// tile row reads, [2 t - pw, 2 t + 3 - pw] for t < tw, fit one 16-float load per input row; the
// even / odd / shifted columns of both rows come from one two-source permute each.
RV_AVX512 void winograd_input_pairs(const float* x, int64_t planes, int64_t h, int64_t w,
                                    int64_t ph, int64_t pw, int64_t th, int64_t tw, float* V,
                                    int64_t ld, int64_t t0) {
  const int64_t kstride = planes * ld;
  alignas(64) int32_t idx[4][16];
  for (int j = 0; j < 4; ++j)  // column 2 t + j of each row: e, o, e1, o1
    for (int t = 0; t < 16; ++t)
      idx[j][t] = t < tw ? int32_t(2 * t + j) : t < 2 * tw ? int32_t(16 + 2 * (t - tw) + j) : 0;
  const __m512i ie = _mm512_load_si512(idx[0]), io = _mm512_load_si512(idx[1]),
                ie1 = _mm512_load_si512(idx[2]), io1 = _mm512_load_si512(idx[3]);
  const int64_t cs = -pw;
  const __mmask16 kin = inside(cs, w);
  for (int64_t c = 0; c < planes; ++c) {
    const float* p = x + c * h * w;
    for (int64_t ty = 0; ty < th; ty += 2) {
      const bool second = ty + 1 < th;
      const __mmask16 m = first(second ? 2 * tw : tw);
      const int64_t r0 = 2 * ty - ph;
      __m512 a[4][4];
      for (int i = 0; i < 4; ++i) {
        const int64_t ra = r0 + i, rb = r0 + 2 + i;
        const __m512 A = ra >= 0 && ra < h ? _mm512_maskz_loadu_ps(kin, p + ra * w + cs)
                                           : _mm512_setzero_ps();
        const __m512 B = second && rb >= 0 && rb < h
                             ? _mm512_maskz_loadu_ps(kin, p + rb * w + cs)
                             : _mm512_setzero_ps();
        input_row_dB(_mm512_permutex2var_ps(A, ie, B), _mm512_permutex2var_ps(A, io, B),
                     _mm512_permutex2var_ps(A, ie1, B), _mm512_permutex2var_ps(A, io1, B), a[i]);
      }
      store_input_tiles(a, V + c * ld + t0 + ty * tw, kstride, m);
    }
  }
}

// At m of the tiles at mp (planes kstride apart): q[0][j], q[1][j] for the tiles' column j.
RV_AVX512 inline void output_At_m(const float* mp, int64_t kstride, __mmask16 m,
                                  __m512 q[2][4]) {
  for (int j = 0; j < 4; ++j) {
    const float* p = mp + j * kstride;
    const __m512 m0 = _mm512_maskz_loadu_ps(m, p);
    const __m512 m1 = _mm512_maskz_loadu_ps(m, p + 4 * kstride);
    const __m512 m2 = _mm512_maskz_loadu_ps(m, p + 8 * kstride);
    const __m512 m3 = _mm512_maskz_loadu_ps(m, p + 12 * kstride);
    q[0][j] = _mm512_add_ps(_mm512_add_ps(m0, m1), m2);
    q[1][j] = _mm512_sub_ps(_mm512_sub_ps(m1, m2), m3);
  }
}

// The even (ya) and odd (yb) output columns of output row i of the tiles, plus the bias.
RV_AVX512 inline void output_row(const __m512 q[2][4], int i, __m512 bv, __m512& ya,
                                 __m512& yb) {
  ya = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(q[i][0], q[i][1]), q[i][2]), bv);
  yb = _mm512_add_ps(_mm512_sub_ps(_mm512_sub_ps(q[i][1], q[i][2]), q[i][3]), bv);
}

}  // namespace

// V[k * kstride + c * ld + t0 + ty * tw + t] for planes [planes][h][w]. Columns outside the
// row (the padding) come from masked loads, which read nothing there.
RV_AVX512 void winograd_input_avx512(const float* x, int64_t planes, int64_t h, int64_t w,
                                     int64_t ph, int64_t pw, int64_t th, int64_t tw, float* V,
                                     int64_t ld, int64_t t0) {
  if (tw <= 7) return winograd_input_pairs(x, planes, h, w, ph, pw, th, tw, V, ld, t0);
  const int64_t kstride = planes * ld;
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28,
                                         30);
  const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
  for (int64_t tb = 0; tb < tw; tb += 16) {
    const __mmask16 m = first(tw - tb);
    const int64_t cs = 2 * tb - pw;  // first column read by this block
    const __mmask16 k0 = inside(cs, w), k1 = inside(cs + 16, w), k2 = inside(cs + 2, w),
                    k3 = inside(cs + 18, w);
    for (int64_t c = 0; c < planes; ++c) {
      const float* p = x + c * h * w;
      for (int64_t ty = 0; ty < th; ++ty) {
        const int64_t r0 = 2 * ty - ph;
        __m512 a[4][4];
        for (int i = 0; i < 4; ++i) {
          const int64_t r = r0 + i;
          if (r < 0 || r >= h) {
            for (int j = 0; j < 4; ++j) a[i][j] = _mm512_setzero_ps();
            continue;
          }
          const float* b = p + r * w + cs;
          const __m512 lo = _mm512_maskz_loadu_ps(k0, b), hi = _mm512_maskz_loadu_ps(k1, b + 16);
          const __m512 lo2 = _mm512_maskz_loadu_ps(k2, b + 2);
          const __m512 hi2 = _mm512_maskz_loadu_ps(k3, b + 18);
          input_row_dB(_mm512_permutex2var_ps(lo, even, hi), _mm512_permutex2var_ps(lo, odd, hi),
                       _mm512_permutex2var_ps(lo2, even, hi2),
                       _mm512_permutex2var_ps(lo2, odd, hi2), a[i]);
        }
        store_input_tiles(a, V + c * ld + t0 + ty * tw + tb, kstride, m);
      }
    }
  }
}

namespace {

// Narrow maps (tw <= 8): two rows of tiles per vector, as winograd_input_pairs; each half's
// two output rows are interleaved from its lanes by one permute.
RV_AVX512 void winograd_output_pairs(const float* M, int64_t O, int64_t oh, int64_t ow,
                                     int64_t th, int64_t tw, int64_t ld, int64_t t0,
                                     const float* bias, float* out) {
  const int64_t kstride = O * ld;
  alignas(64) int32_t idx[2][16];
  for (int h = 0; h < 2; ++h)  // half h: lanes h tw + t of ya and yb, interleaved
    for (int l = 0; l < 16; ++l) idx[h][l] = int32_t((l % 2) * 16 + h * tw + l / 2);
  const __m512i first_half = _mm512_load_si512(idx[0]), second_half = _mm512_load_si512(idx[1]);
  const __mmask16 mcols = first(std::min<int64_t>(2 * tw, ow));
  for (int64_t o = 0; o < O; ++o) {
    const __m512 bv = _mm512_set1_ps(bias ? bias[o] : 0.0f);
    float* y = out + o * oh * ow;
    for (int64_t ty = 0; ty < th; ty += 2) {
      const bool second = ty + 1 < th;
      const __mmask16 m = first(second ? 2 * tw : tw);
      __m512 q[2][4];
      output_At_m(M + o * ld + t0 + ty * tw, kstride, m, q);
      for (int i = 0; i < 2; ++i) {
        __m512 ya, yb;
        output_row(q, i, bv, ya, yb);
        const int64_t ra = 2 * ty + i, rb = 2 * ty + 2 + i;
        if (ra < oh)
          _mm512_mask_storeu_ps(y + ra * ow, mcols, _mm512_permutex2var_ps(ya, first_half, yb));
        if (second && rb < oh)
          _mm512_mask_storeu_ps(y + rb * ow, mcols, _mm512_permutex2var_ps(ya, second_half, yb));
      }
    }
  }
}

}  // namespace

// out [O][oh][ow] from M[k * kstride + o * ld + t0 + ty * tw + t] plus bias (may be null).
RV_AVX512 void winograd_output_avx512(const float* M, int64_t O, int64_t oh, int64_t ow,
                                      int64_t th, int64_t tw, int64_t ld, int64_t t0,
                                      const float* bias, float* out) {
  if (tw <= 8) return winograd_output_pairs(M, O, oh, ow, th, tw, ld, t0, bias, out);
  const int64_t kstride = O * ld;
  const __m512i ilo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const __m512i ihi = _mm512_add_epi32(ilo, _mm512_set1_epi32(8));
  for (int64_t o = 0; o < O; ++o) {
    const __m512 bv = _mm512_set1_ps(bias ? bias[o] : 0.0f);
    float* y = out + o * oh * ow;
    for (int64_t ty = 0; ty < th; ++ty) {
      const float* mrow = M + o * ld + t0 + ty * tw;
      for (int64_t tb = 0; tb < tw; tb += 16) {
        const __mmask16 m = first(tw - tb);
        __m512 q[2][4];
        output_At_m(mrow + tb, kstride, m, q);
        const int64_t ncols = std::min<int64_t>(32, ow - 2 * tb);  // output columns here
        const __mmask16 mlo = first(ncols), mhi = first(ncols - 16 > 0 ? ncols - 16 : 0);
        for (int i = 0; i < 2 && 2 * ty + i < oh; ++i) {
          __m512 ya, yb;
          output_row(q, i, bv, ya, yb);
          float* dst = y + (2 * ty + i) * ow + 2 * tb;
          _mm512_mask_storeu_ps(dst, mlo, _mm512_permutex2var_ps(ya, ilo, yb));
          if (ncols > 16) _mm512_mask_storeu_ps(dst + 16, mhi, _mm512_permutex2var_ps(ya, ihi, yb));
        }
      }
    }
  }
}

namespace {

// Narrow maps (tw <= 8): two rows of tiles per vector, as winograd_input_pairs.
RV_AVX512 void winograd_grad_pairs(const float* gy, int64_t O, int64_t oh, int64_t ow,
                                   int64_t th, int64_t tw, float* Z, int64_t ld, int64_t t0) {
  const int64_t kstride = O * ld;
  alignas(64) int32_t idx[2][16];
  for (int j = 0; j < 2; ++j)  // column 2 t + j of each of the two rows
    for (int t = 0; t < 16; ++t)
      idx[j][t] = t < tw ? int32_t(2 * t + j) : t < 2 * tw ? int32_t(16 + 2 * (t - tw) + j) : 0;
  const __m512i ie = _mm512_load_si512(idx[0]), io = _mm512_load_si512(idx[1]);
  const __mmask16 mrow = first(ow);
  for (int64_t o = 0; o < O; ++o) {
    const float* p = gy + o * oh * ow;
    for (int64_t ty = 0; ty < th; ty += 2) {
      const bool second = ty + 1 < th;
      const __mmask16 m = first(second ? 2 * tw : tw);
      __m512 e[2], od[2];
      for (int i = 0; i < 2; ++i) {
        const int64_t ra = 2 * ty + i, rb = 2 * ty + 2 + i;
        const __m512 A = ra < oh ? _mm512_maskz_loadu_ps(mrow, p + ra * ow)
                                 : _mm512_setzero_ps();
        const __m512 B = second && rb < oh ? _mm512_maskz_loadu_ps(mrow, p + rb * ow)
                                           : _mm512_setzero_ps();
        e[i] = _mm512_permutex2var_ps(A, ie, B);
        od[i] = _mm512_permutex2var_ps(A, io, B);
      }
      store_grad_tiles(e, od, Z + o * ld + t0 + ty * tw, kstride, m);
    }
  }
}

}  // namespace

// Z[k * kstride + o * ld + t0 + ty * tw + t] = A dY At of the output-gradient blocks.
RV_AVX512 void winograd_grad_avx512(const float* gy, int64_t O, int64_t oh, int64_t ow,
                                    int64_t th, int64_t tw, float* Z, int64_t ld, int64_t t0) {
  if (tw <= 8) return winograd_grad_pairs(gy, O, oh, ow, th, tw, Z, ld, t0);
  const int64_t kstride = O * ld;
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28,
                                         30);
  const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
  for (int64_t o = 0; o < O; ++o) {
    const float* p = gy + o * oh * ow;
    for (int64_t ty = 0; ty < th; ++ty) {
      float* zrow = Z + o * ld + t0 + ty * tw;
      for (int64_t tb = 0; tb < tw; tb += 16) {
        const __mmask16 m = first(tw - tb);
        const int64_t ncols = std::min<int64_t>(32, ow - 2 * tb);
        const __mmask16 mlo = first(ncols), mhi = first(ncols - 16 > 0 ? ncols - 16 : 0);
        __m512 e[2], od[2];
        for (int i = 0; i < 2; ++i) {
          if (2 * ty + i >= oh) {
            e[i] = od[i] = _mm512_setzero_ps();
            continue;
          }
          const float* row = p + (2 * ty + i) * ow + 2 * tb;
          const __m512 lo = _mm512_maskz_loadu_ps(mlo, row);
          const __m512 hi = _mm512_maskz_loadu_ps(mhi, row + 16);
          e[i] = _mm512_permutex2var_ps(lo, even, hi);
          od[i] = _mm512_permutex2var_ps(lo, odd, hi);
        }
        store_grad_tiles(e, od, zrow + tb, kstride, m);
      }
    }
  }
}

// Note [Fused patterns]: the output transform followed by relu and the 2x2 max pool, for even
// output sizes, where each tile's 2x2 outputs are one pooling window: pooled plane o holds the
// tiles in tile order, 16 tiles per vector whatever the row length. The conv values are
// output_row's, so the result is the dense transform's then relu's then the pool's, bit for bit.
RV_RELU_POOL_TARGET void winograd_output_relu_pool_avx512(const float* M, int64_t O,
                                                          int64_t tiles, int64_t ld, int64_t t0,
                                                          const float* bias, float* pooled,
                                                          uint8_t* codes) {
  const int64_t kstride = O * ld;
  for (int64_t o = 0; o < O; ++o) {
    const __m512 bv = _mm512_set1_ps(bias ? bias[o] : 0.0f);
    for (int64_t t = 0; t < tiles; t += 16) {
      const __mmask16 m = first(tiles - t);
      __m512 q[2][4], a0, b0, a1, b1, best;
      __m512i code;
      output_At_m(M + o * ld + t0 + t, kstride, m, q);
      output_row(q, 0, bv, a0, b0);
      output_row(q, 1, bv, a1, b1);
      relu_pool::pool4(relu_pool::relu(a0), relu_pool::relu(b0), relu_pool::relu(a1),
                       relu_pool::relu(b1), best, code);
      relu_pool::store(pooled + o * tiles + t, codes + o * tiles + t, m, best, code);
    }
  }
}

// planes [planes][oh][ow] (oh, ow even) of the conv output's gradient from the pooled one.
RV_RELU_POOL_TARGET void winograd_spread_avx512(const float* gpool, const uint8_t* codes,
                                                int64_t planes, int64_t oh, int64_t ow,
                                                float* out) {
  const int64_t pw = ow / 2, P = (oh / 2) * pw;
  for (int64_t c = 0; c < planes; ++c)
    for (int64_t i = 0; i < oh; ++i)
      for (int64_t j0 = 0; j0 < ow; j0 += 16) {
        const int64_t at = c * P + (i / 2) * pw + j0 / 2;
        const __mmask16 m = first(ow - j0);
        _mm512_mask_storeu_ps(out + (c * oh + i) * ow + j0, m,
                              relu_pool::spread16(gpool + at, codes + at, i, m,
                                                  first((ow - j0) / 2)));
      }
}

}  // namespace ranvier::cpu
