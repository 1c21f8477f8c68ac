// AVX2 + FMA float versions of the Winograd F(2x2, 3x3) tile transforms (see conv_winograd.cpp,
// which holds the portable versions and the layouts, and conv_winograd_avx512.cpp): one row of
// tiles at a time, 8 tiles per vector (maskload at the row end and for the padding: masked-off
// lanes read nothing, so the zero padding costs no branches). A masked store costs far more
// than a plain one on AMD Zen 3 (measured: the input transform of the cnn workload's 14 x 14
// maps, rows of 7 tiles, spent most of its time in them), so a partial vector is stored in
// 16-, 8- and 4-byte pieces, and where the lanes past a row's end land on elements of the same
// buffer that the same loop writes later (the next rows), the whole vector is stored and those
// lanes are overwritten afterwards. Each output is
// formed by the portable code's adds and subtractions in its order, negation included (a sign
// flip, not 0 - x), so the results are the portable transforms' bits. Compiled for AVX2 + FMA
// through function attributes; callers check the CPU first (winograd_avx2_usable()).
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/cpu_capability.h"
#include "kernels/cpu/relu_pool_avx2.h"

// GCC 12 warns about its own intrinsics headers (an undefined register used as a blend source).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace ranvier::cpu {

bool winograd_avx2_usable() { return cpu_uses_avx2(); }

namespace {

using relu_pool_avx2::first8;
using relu_pool_avx2::inside8;

// The even and odd lanes of the 16 floats lo:hi (lo's first): lo0 lo2 .. hi6 and lo1 lo3 .. hi7.
RV_AVX2_TARGET inline void deinterleave(__m256 lo, __m256 hi, __m256& even, __m256& odd) {
  // per 128-bit half: lo0 lo2 hi0 hi2 | lo4 lo6 hi4 hi6; then the 64-bit pairs reordered
  const __m256 e = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0));
  const __m256 o = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1));
  even = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), _MM_SHUFFLE(3, 1, 2, 0)));
  odd = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(o), _MM_SHUFFLE(3, 1, 2, 0)));
}

// -x exactly (the portable code's unary minus: -(+0) is -0, unlike 0 - x).
RV_AVX2_TARGET inline __m256 neg(__m256 x) { return _mm256_xor_ps(x, _mm256_set1_ps(-0.0f)); }

// 8 floats at p, or the first n of them (the others read as 0, nothing read there).
// n >= 8 reads all 8.
RV_AVX2_TARGET inline __m256 load_n(const float* p, int64_t n, __m256i m) {
  return n >= 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, m);
}

// The first n lanes of v to p (n >= 8: all 8), without masked stores.
RV_AVX2_TARGET inline void store_n(float* p, int64_t n, __m256 v) {
  store_first(p, v, n);
}

// One padded input row's part of d B: from its columns 2t, 2t + 1, 2t + 2, 2t + 3 of each tile.
RV_AVX2_TARGET inline void input_row_dB(__m256 e, __m256 o, __m256 e1, __m256 o1, __m256 a[4]) {
  a[0] = _mm256_sub_ps(e, e1);
  a[1] = _mm256_add_ps(o, e1);
  a[2] = _mm256_sub_ps(e1, o);
  a[3] = _mm256_sub_ps(o, o1);
}

// Padded row r's part of d B for the block of tiles whose first column is cs (k0..k3: the
// in-row lanes of its four loads); zero outside the plane's h rows.
RV_AVX2_TARGET inline void padded_row_dB(const float* p, int64_t r, int64_t h, int64_t w,
                                         int64_t cs, __m256i k0, __m256i k1, __m256i k2,
                                         __m256i k3, __m256* a) {
  if (r < 0 || r >= h) {
    for (int j = 0; j < 4; ++j) a[j] = _mm256_setzero_ps();
    return;
  }
  const float* b = p + r * w + cs;
  __m256 e, o, e1, o1;
  deinterleave(_mm256_maskload_ps(b, k0), _mm256_maskload_ps(b + 8, k1), e, o);
  deinterleave(_mm256_maskload_ps(b + 2, k2), _mm256_maskload_ps(b + 10, k3), e1, o1);
  input_row_dB(e, o, e1, o1, a);
}

// Bt (d B) of the four rows in a, stored to the 16 planes of V from v (planes kstride apart),
// the first n tiles.
RV_AVX2_TARGET inline void store_input_tiles(const __m256 a[4][4], float* v, int64_t kstride,
                                             int64_t n) {
  for (int j = 0; j < 4; ++j) {
    store_n(v + (0 * 4 + j) * kstride, n, _mm256_sub_ps(a[0][j], a[2][j]));
    store_n(v + (1 * 4 + j) * kstride, n, _mm256_add_ps(a[1][j], a[2][j]));
    store_n(v + (2 * 4 + j) * kstride, n, _mm256_sub_ps(a[2][j], a[1][j]));
    store_n(v + (3 * 4 + j) * kstride, n, _mm256_sub_ps(a[1][j], a[3][j]));
  }
}

// At m of the first n tiles at mp (planes kstride apart): q[0][j], q[1][j] for column j.
RV_AVX2_TARGET inline void output_At_m(const float* mp, int64_t kstride, int64_t n, __m256i m,
                                       __m256 q[2][4]) {
  for (int j = 0; j < 4; ++j) {
    const float* p = mp + j * kstride;
    const __m256 m0 = load_n(p, n, m);
    const __m256 m1 = load_n(p + 4 * kstride, n, m);
    const __m256 m2 = load_n(p + 8 * kstride, n, m);
    const __m256 m3 = load_n(p + 12 * kstride, n, m);
    q[0][j] = _mm256_add_ps(_mm256_add_ps(m0, m1), m2);
    q[1][j] = _mm256_sub_ps(_mm256_sub_ps(m1, m2), m3);
  }
}

// The even (ya) and odd (yb) output columns of output row i of the tiles, plus the bias.
RV_AVX2_TARGET inline void output_row(const __m256 q[2][4], int i, __m256 bv, __m256& ya,
                                      __m256& yb) {
  ya = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(q[i][0], q[i][1]), q[i][2]), bv);
  yb = _mm256_add_ps(_mm256_sub_ps(_mm256_sub_ps(q[i][1], q[i][2]), q[i][3]), bv);
}

// A dY At of 8 tiles' 2x2 output-gradient blocks (e*, od*: the even and odd columns of the
// block's rows 0 and 1) to the 16 planes of Z at z (kstride apart), the first ns lanes. A dY has
// rows y0, y0 + y1, y0 - y1, -y1 (per column parity); then At on the columns.
RV_AVX2_TARGET inline void store_grad_blocks(__m256 e0, __m256 od0, __m256 e1, __m256 od1,
                                             float* z, int64_t kstride, int64_t ns) {
  const __m256 a[4][2] = {{e0, od0},
                          {_mm256_add_ps(e0, e1), _mm256_add_ps(od0, od1)},
                          {_mm256_sub_ps(e0, e1), _mm256_sub_ps(od0, od1)},
                          {neg(e1), neg(od1)}};
  for (int i = 0; i < 4; ++i) {
    store_n(z + (i * 4 + 0) * kstride, ns, a[i][0]);
    store_n(z + (i * 4 + 1) * kstride, ns, _mm256_add_ps(a[i][0], a[i][1]));
    store_n(z + (i * 4 + 2) * kstride, ns, _mm256_sub_ps(a[i][0], a[i][1]));
    store_n(z + (i * 4 + 3) * kstride, ns, neg(a[i][1]));
  }
}

}  // namespace

// V[k * kstride + c * ld + t0 + ty * tw + t] for planes [planes][h][w]. A block of 8 tiles
// reads columns [2 tb - pw, 2 tb - pw + 18): two pairs of 8-float loads (from its first column
// and two further on) give the columns 2t, 2t + 1 and 2t + 2, 2t + 3 of each tile. Columns
// outside the row (the padding) come from masked loads, which read nothing there.
RV_AVX2_TARGET void winograd_input_avx2(const float* x, int64_t planes, int64_t h, int64_t w,
                                        int64_t ph, int64_t pw, int64_t th, int64_t tw, float* V,
                                        int64_t ld, int64_t t0) {
  const int64_t kstride = planes * ld;
  for (int64_t tb = 0; tb < tw; tb += 8) {
    const int64_t n = std::min<int64_t>(8, tw - tb);
    const int64_t cs = 2 * tb - pw;  // first column read by this block
    const __m256i k0 = inside8(cs, w), k1 = inside8(cs + 8, w), k2 = inside8(cs + 2, w),
                  k3 = inside8(cs + 10, w);
    for (int64_t c = 0; c < planes; ++c) {
      const float* p = x + c * h * w;
      // rows of tiles overlap by two input rows: a row of tiles reuses the last two rows'
      // d B of the row above and transforms two more
      __m256 a[4][4];
      padded_row_dB(p, -ph, h, w, cs, k0, k1, k2, k3, a[2]);
      padded_row_dB(p, 1 - ph, h, w, cs, k0, k1, k2, k3, a[3]);
      for (int64_t ty = 0; ty < th; ++ty) {
        const int64_t r0 = 2 * ty - ph;
        for (int j = 0; j < 4; ++j) {
          a[0][j] = a[2][j];
          a[1][j] = a[3][j];
        }
        padded_row_dB(p, r0 + 2, h, w, cs, k0, k1, k2, k3, a[2]);
        padded_row_dB(p, r0 + 3, h, w, cs, k0, k1, k2, k3, a[3]);
        // one block a row (tw <= 8): lanes past the row land on the next rows' tiles of this
        // plane and sample, stored later in this loop
        const bool wide = tw <= 8 && ty * tw + 8 <= th * tw;
        store_input_tiles(a, V + c * ld + t0 + ty * tw + tb, kstride, wide ? 8 : n);
      }
    }
  }
}

// out [O][oh][ow] from M[k * kstride + o * ld + t0 + ty * tw + t] plus bias (may be null): the
// even and odd output columns of 8 tiles are interleaved into 16 columns (masked at the row's
// end; an odd width drops the last tile's odd column).
RV_AVX2_TARGET void winograd_output_avx2(const float* M, int64_t O, int64_t oh, int64_t ow,
                                         int64_t th, int64_t tw, int64_t ld, int64_t t0,
                                         const float* bias, float* out) {
  const int64_t kstride = O * ld;
  for (int64_t o = 0; o < O; ++o) {
    const __m256 bv = _mm256_set1_ps(bias ? bias[o] : 0.0f);
    float* y = out + o * oh * ow;
    for (int64_t ty = 0; ty < th; ++ty) {
      const float* mrow = M + o * ld + t0 + ty * tw;
      for (int64_t tb = 0; tb < tw; tb += 8) {
        const int64_t n = std::min<int64_t>(8, tw - tb);
        __m256 q[2][4];
        // lanes past the row's tiles are read from M's row o (written by the products) when
        // the vector ends inside it
        output_At_m(mrow + tb, kstride, t0 + ty * tw + tb + 8 <= ld ? 8 : n, first8(n), q);
        const int64_t ncols = std::min<int64_t>(16, ow - 2 * tb);  // output columns here
        for (int i = 0; i < 2 && 2 * ty + i < oh; ++i) {
          __m256 ya, yb;
          output_row(q, i, bv, ya, yb);
          // ya0 yb0 ya1 yb1 | ya4 yb4 ya5 yb5 and ya2 yb2 ya3 yb3 | ya6 yb6 ya7 yb7
          const __m256 lo = _mm256_unpacklo_ps(ya, yb), hi = _mm256_unpackhi_ps(ya, yb);
          float* dst = y + (2 * ty + i) * ow + 2 * tb;
          // one block a row: columns past the row land on the plane's next rows, stored later
          const bool wide = tw <= 8 && (2 * ty + i) * ow + 16 <= oh * ow;
          store_n(dst, wide ? 8 : ncols, _mm256_permute2f128_ps(lo, hi, 0x20));
          if (wide || ncols > 8)
            store_n(dst + 8, wide ? 8 : ncols - 8, _mm256_permute2f128_ps(lo, hi, 0x31));
        }
      }
    }
  }
}

// Z[k * kstride + o * ld + t0 + ty * tw + t] = A dY At of the output-gradient blocks (zero
// outside the map): 16 columns of the block's two rows, split into even and odd columns.
RV_AVX2_TARGET void winograd_grad_avx2(const float* gy, int64_t O, int64_t oh, int64_t ow,
                                       int64_t th, int64_t tw, float* Z, int64_t ld,
                                       int64_t t0) {
  const int64_t kstride = O * ld;
  const __m256 zero = _mm256_setzero_ps();
  for (int64_t o = 0; o < O; ++o) {
    const float* p = gy + o * oh * ow;
    for (int64_t ty = 0; ty < th; ++ty) {
      float* zrow = Z + o * ld + t0 + ty * tw;
      for (int64_t tb = 0; tb < tw; tb += 8) {
        const int64_t n = std::min<int64_t>(8, tw - tb);
        const int64_t ncols = std::min<int64_t>(16, ow - 2 * tb);
        const __m256i mlo = first8(ncols), mhi = first8(ncols - 8);
        __m256 e[2], od[2];
        for (int i = 0; i < 2; ++i) {
          if (2 * ty + i >= oh) {
            e[i] = od[i] = zero;
            continue;
          }
          const float* row = p + (2 * ty + i) * ow + 2 * tb;
          deinterleave(_mm256_maskload_ps(row, mlo), _mm256_maskload_ps(row + 8, mhi), e[i],
                       od[i]);
        }
        // one block a row: lanes past the row land on the next rows' tiles, stored later
        store_grad_blocks(e[0], od[0], e[1], od[1], zrow + tb, kstride,
                          tw <= 8 && ty * tw + 8 <= th * tw ? 8 : n);
      }
    }
  }
}

// g where code is tap k, else +0.
RV_AVX2_TARGET inline __m256 chosen_tap(__m256 g, __m256i code, int k) {
  return _mm256_and_ps(g, _mm256_castsi256_ps(_mm256_cmpeq_epi32(code, _mm256_set1_epi32(k))));
}

// winograd_grad_avx2's Z for the fused conv -> relu -> max pool's output gradient, straight
// from the pooled gradient and codes (planes [O][tiles], a tile per pooling window): a tile's
// 2x2 block holds the pooled value at its chosen tap and +0 elsewhere (what
// winograd_spread_avx2 writes), so the same adds on the same values give the same bits.
RV_AVX2_TARGET void winograd_grad_pooled_avx2(const float* gpool, const uint8_t* codes,
                                              int64_t O, int64_t tiles, float* Z, int64_t ld,
                                              int64_t t0) {
  const int64_t kstride = O * ld;
  for (int64_t o = 0; o < O; ++o) {
    const float* gp = gpool + o * tiles;
    const uint8_t* cd = codes + o * tiles;
    float* zrow = Z + o * ld + t0;
    for (int64_t t = 0; t < tiles; t += 8) {
      const int64_t n = std::min<int64_t>(8, tiles - t);
      const __m256 g = load_n(gp + t, n, first8(n));
      uint64_t c8 = 0;
      std::memcpy(&c8, cd + t, size_t(n));
      const __m256i c = _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(int64_t(c8)));
      const __m256 e0 = chosen_tap(g, c, 0), od0 = chosen_tap(g, c, 1);
      const __m256 e1 = chosen_tap(g, c, 2), od1 = chosen_tap(g, c, 3);
      // lanes past the sample's tiles land on the next sample's columns, written later
      store_grad_blocks(e0, od0, e1, od1, zrow + t, kstride, t0 + t + 8 <= ld ? 8 : n);
    }
  }
}

// B v of four vectors (the transposed input transform; conv_winograd_input_grad.cpp).
RV_AVX2_TARGET inline void b_times(const __m256 v[4], __m256 y[4]) {
  y[0] = v[0];
  y[1] = _mm256_add_ps(_mm256_sub_ps(v[1], v[2]), v[3]);
  y[2] = _mm256_sub_ps(_mm256_add_ps(v[1], v[2]), v[0]);
  y[3] = neg(v[3]);
}

// Lanes 0..6 of x moved up one, lane 0 from lane 7 of prev.
RV_AVX2_TARGET inline __m256 shift_in(__m256 x, __m256 prev) {
  const __m256i up = _mm256_setr_epi32(7, 0, 1, 2, 3, 4, 5, 6);
  return _mm256_blend_ps(_mm256_permutevar8x32_ps(x, up), _mm256_permutevar8x32_ps(prev, up),
                         0x01);
}

// Row r of a plane of h x w (if inside) = (row or +0) + below, from padded column pw on.
RV_AVX2_TARGET inline void emit_row(const float* row, const float* below, int64_t r, int64_t h,
                                    int64_t w, int64_t pw, float* plane) {
  if (r < 0 || r >= h) return;
  for (int64_t x = 0; x < w; x += 8) {
    const __m256 a = row ? _mm256_loadu_ps(row + x + pw) : _mm256_setzero_ps();
    const __m256 v = _mm256_add_ps(a, _mm256_loadu_ps(below + x + pw));
    // lanes past the row land on the plane's next rows, written later
    store_n(plane + r * w + x, r * w + x + 8 <= h * w ? 8 : w - x, v);
  }
}

// The transposed input transform of winograd_input_grad_portable, the same bits (Note
// [Winograd input gradient order]): blocks of 8 tiles per vector, the last block reaching tile
// tw (zeros); a row of tiles gives four padded rows (even and odd columns interleaved) in
// `rows`, whose first two, plus the two carried from the row of tiles above, are the output.
RV_AVX2_TARGET void winograd_input_grad_avx2(const float* dV, int64_t planes, int64_t h,
                                             int64_t w, int64_t ph, int64_t pw, int64_t th,
                                             int64_t tw, int64_t ld, int64_t t0, float* gx) {
  const int64_t kstride = planes * ld, nb = (tw + 1 + 7) / 8, wp = 16 * nb + 16;
  thread_local std::vector<float> buf;
  if (buf.size() < size_t(6 * wp)) buf.resize(size_t(6 * wp));
  float* rows[4] = {buf.data(), buf.data() + wp, buf.data() + 2 * wp, buf.data() + 3 * wp};
  float* carry[2] = {buf.data() + 4 * wp, buf.data() + 5 * wp};
  const __m256 zero = _mm256_setzero_ps();
  for (int64_t c = 0; c < planes; ++c) {
    float* plane = gx + c * h * w;
    std::fill(carry[0], carry[0] + wp, 0.0f);
    std::fill(carry[1], carry[1] + wp, 0.0f);
    for (int64_t ty = 0; ty < th; ++ty) {
      const float* src = dV + c * ld + t0 + ty * tw;
      __m256 prev[4][2];
      for (int i = 0; i < 4; ++i) prev[i][0] = prev[i][1] = zero;
      for (int64_t b = 0; b < nb; ++b) {
        const int64_t tb = 8 * b, n = std::min<int64_t>(8, tw - tb);  // tiles here (may be 0)
        const __m256i m = first8(n);
        __m256 cols[4][4];  // B down each column s of dV: cols[s][i]
        for (int s = 0; s < 4; ++s) {
          __m256 col[4];
          for (int r = 0; r < 4; ++r)
            col[r] = n > 0 ? _mm256_maskload_ps(src + (r * 4 + s) * kstride + tb, m) : zero;
          b_times(col, cols[s]);
        }
        for (int i = 0; i < 4; ++i) {
          const __m256 row[4] = {cols[0][i], cols[1][i], cols[2][i], cols[3][i]};
          __m256 dd[4];
          b_times(row, dd);
          const __m256 even = _mm256_add_ps(dd[0], shift_in(dd[2], prev[i][0]));
          const __m256 odd = _mm256_add_ps(dd[1], shift_in(dd[3], prev[i][1]));
          prev[i][0] = dd[2];
          prev[i][1] = dd[3];
          const __m256 lo = _mm256_unpacklo_ps(even, odd), hi = _mm256_unpackhi_ps(even, odd);
          _mm256_storeu_ps(rows[i] + 2 * tb, _mm256_permute2f128_ps(lo, hi, 0x20));
          _mm256_storeu_ps(rows[i] + 2 * tb + 8, _mm256_permute2f128_ps(lo, hi, 0x31));
        }
      }
      for (int i = 0; i < 2; ++i) emit_row(rows[i], carry[i], 2 * ty + i - ph, h, w, pw, plane);
      std::swap(carry[0], rows[2]);
      std::swap(carry[1], rows[3]);
    }
    for (int i = 0; i < 2; ++i) emit_row(nullptr, carry[i], 2 * th + i - ph, h, w, pw, plane);
  }
}

// Note [Fused patterns]: the output transform followed by relu and the 2x2 max pool, for even
// output sizes, where each tile's 2x2 outputs are one pooling window: pooled plane o holds the
// tiles in tile order, 8 tiles per vector whatever the row length. The conv values are
// output_row's, so the result is the dense transform's then relu's then the pool's, bit for bit.
RV_AVX2_TARGET void winograd_output_relu_pool_avx2(const float* M, int64_t O, int64_t tiles,
                                                   int64_t ld, int64_t t0, const float* bias,
                                                   float* pooled, uint8_t* codes) {
  namespace rp = relu_pool_avx2;
  const int64_t kstride = O * ld;
  for (int64_t o = 0; o < O; ++o) {
    const __m256 bv = _mm256_set1_ps(bias ? bias[o] : 0.0f);
    for (int64_t t = 0; t < tiles; t += 8) {
      const int64_t n = std::min<int64_t>(8, tiles - t);
      __m256 q[2][4], a0, b0, a1, b1, best;
      __m256i code;
      output_At_m(M + o * ld + t0 + t, kstride, t0 + t + 8 <= ld ? 8 : n, first8(n), q);
      output_row(q, 0, bv, a0, b0);
      output_row(q, 1, bv, a1, b1);
      rp::pool4(rp::relu(a0), rp::relu(b0), rp::relu(a1), rp::relu(b1), best, code);
      // lanes past the plane land on the next plane, stored later
      rp::store(pooled + o * tiles + t, codes + o * tiles + t,
                o * tiles + t + 8 <= O * tiles ? 8 : n, best, code);
    }
  }
}

// planes [planes][oh][ow] (oh, ow even) of the conv output's gradient from the pooled one.
RV_AVX2_TARGET void winograd_spread_avx2(const float* gpool, const uint8_t* codes,
                                         int64_t planes, int64_t oh, int64_t ow, float* out) {
  const int64_t pw = ow / 2, P = (oh / 2) * pw;
  for (int64_t c = 0; c < planes; ++c)
    for (int64_t i = 0; i < oh; ++i)
      for (int64_t j0 = 0; j0 < ow; j0 += 8) {
        const int64_t at = c * P + (i / 2) * pw + j0 / 2;
        const int64_t n = std::min<int64_t>(8, ow - j0);
        // lanes past the row land on the next rows, stored later
        const int64_t to = (c * oh + i) * ow + j0;
        store_n(out + to, to + 8 <= planes * oh * ow ? 8 : n,
                relu_pool_avx2::spread8(gpool + at, codes + at, i, n));
      }
}

}  // namespace ranvier::cpu
