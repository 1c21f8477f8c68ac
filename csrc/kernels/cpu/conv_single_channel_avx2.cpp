// AVX2 + FMA versions of the direct 3x3 / stride 1 / one-input-channel kernels (see
// conv_single_channel.h; the driver and the AVX-512 versions are in conv_single_channel.cpp).
// The plain forward goes 8 columns at a time: the nine shifted input vectors of an output row
// block are loaded once (masked loads supply the zero padding and read nothing outside the row)
// and reused for every output channel; the fused conv -> relu -> pool goes 16 columns at a time
// from a copy of the rows split into even and odd columns. Each conv value is the same FMA
// chain as in the AVX-512 kernels (bias, then the nine taps in row-major order), so forward
// values match them; the weight gradient's lanes (16 columns split into even and odd halves
// of 8) are summed in another order, so its bits are this file's own. The fused relu -> pool
// and its weight gradient use the same chains as the plain forward and weight gradient here,
// so they give the three ops' bits at this capability.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "kernels/cpu/conv_single_channel.h"
#include "kernels/cpu/relu_pool_avx2.h"

// GCC 12 warns about its own intrinsics headers (an undefined register used as a blend source).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace ranvier::cpu {

namespace {

namespace rp = relu_pool_avx2;
using rp::first8;
using rp::inside8;

// The masks of the three column shifts of an 8-column block from j0 (lanes m of the output):
// input columns j0 + c - pw that lie in the row.
RV_AVX2_TARGET inline void shift_masks(const ConvGeom& g, int64_t j0, __m256i m, __m256i km[3]) {
  for (int c = 0; c < 3; ++c) km[c] = _mm256_and_si256(inside8(j0 + c - g.pw, g.w), m);
}

// The sum of the 8 lanes in a fixed order: halves, then pairs, then the last two.
RV_AVX2_TARGET inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}

// n zeroed floats in v from a 64-byte boundary, so that 32-byte loads never straddle a cache
// line (with malloc's 16-byte alignment half of them did: the fused one-channel forward's
// calls ran 537-561 us at the 10th percentile but 629 at the median, 521-529 aligned).
inline float* aligned64(std::vector<float>& v, int64_t n) {
  v.assign(size_t(n + 16), 0.0f);
  const uintptr_t a = reinterpret_cast<uintptr_t>(v.data());
  return v.data() + ((64 - a % 64) % 64) / sizeof(float);
}

// The even (Odd false) or odd (Odd true) ones of the 16 columns lo, hi, in order: lo[0], lo[2],
// .., hi[6] or lo[1], lo[3], .., hi[7].
template <bool Odd>
RV_AVX2_TARGET inline __m256 alternate_columns(__m256 lo, __m256 hi) {
  const __m256 s = _mm256_shuffle_ps(lo, hi, Odd ? 0xDD : 0x88);  // per 128-bit half
  return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(s), 0xD8));
}

// The weight gradient goes 16 conv columns at a time, split into their even (A) and odd (B)
// columns: lane m of A is column j0 + 2m, of B column j0 + 2m + 1, so that a 2x2 pool's
// windows (pooled column j0 / 2 + m) map to lane m of both halves with no shuffles.
//
// Rows of the output gradient: a dense [n, co, oh, ow] map, or (the fused conv -> relu -> 2x2
// max pool) the pooled gradient spread to each window's chosen tap. plane(n, o, j0, G, bA, bB)
// writes the oh rows' A and B halves of plane (n, o) to G (16 floats a row; lanes past the
// output's width +0) and adds them to bA and bB in row order.
struct DenseRows {
  const float* gmat;
  int64_t co, L, ow, oh;
  RV_AVX2_TARGET void plane(int64_t n, int64_t o, int64_t j0, float* G, __m256& bA,
                            __m256& bB) const {
    const float* p = gmat + (n * co + o) * L + j0;
    const __m256i m0 = first8(ow - j0), m1 = first8(ow - j0 - 8);
    for (int64_t i = 0; i < oh; ++i) {
      const __m256 lo = _mm256_maskload_ps(p + i * ow, m0),
                   hi = _mm256_maskload_ps(p + i * ow + 8, m1);
      const __m256 a = alternate_columns<false>(lo, hi), b = alternate_columns<true>(lo, hi);
      _mm256_storeu_ps(G + i * 16, a);
      _mm256_storeu_ps(G + i * 16 + 8, b);
      bA = _mm256_add_ps(bA, a);
      bB = _mm256_add_ps(bB, b);
    }
  }
};

// The lanes of g whose code c is tap, +0 elsewhere.
RV_AVX2_TARGET inline __m256 pick(__m256 g, __m256i c, __m256i tap) {
  return _mm256_and_ps(g, _mm256_castsi256_ps(_mm256_cmpeq_epi32(c, tap)));
}

struct PooledRows {  // oh and ow even
  const float* gpool;
  const uint8_t* codes;
  int64_t co, P, pw, oh, total;  // total: elements of gpool / codes
  RV_AVX2_TARGET void plane(int64_t n, int64_t o, int64_t j0, float* G, __m256& bA,
                            __m256& bB) const {
    const int64_t at = (n * co + o) * P + j0 / 2;
    const int64_t np = std::min<int64_t>(8, pw - j0 / 2);
    const __m256i m = first8(np);
    const __m256i tap1 = _mm256_set1_epi32(1), tap2 = _mm256_set1_epi32(2),
                  tap3 = _mm256_set1_epi32(3);
    for (int64_t q = 0; q < oh / 2; ++q) {  // conv rows 2q and 2q + 1 from pooled row q
      const int64_t e = at + q * pw;
      // lanes from np on: g +0 whatever their codes, so 8 code bytes are read where the
      // buffer has them
      const __m256 gv = _mm256_maskload_ps(gpool + e, m);
      uint64_t c8 = 0;
      if (e + 8 <= total)
        std::memcpy(&c8, codes + e, 8);
      else
        std::memcpy(&c8, codes + e, size_t(np));
      const __m256i c = _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(int64_t(c8)));
      // the window's tap (row-major) picks the lane's half and row: 0 A / 1 B of row 2q,
      // 2 A / 3 B of row 2q + 1
      const __m256 a0 = pick(gv, c, _mm256_setzero_si256()), b0 = pick(gv, c, tap1),
                   a1 = pick(gv, c, tap2), b1 = pick(gv, c, tap3);
      float* r = G + 2 * q * 16;
      _mm256_storeu_ps(r, a0);
      _mm256_storeu_ps(r + 8, b0);
      _mm256_storeu_ps(r + 16, a1);
      _mm256_storeu_ps(r + 24, b1);
      bA = _mm256_add_ps(_mm256_add_ps(bA, a0), a1);
      bB = _mm256_add_ps(_mm256_add_ps(bB, b0), b1);
    }
  }
};

// Channels whose gradient rows one pass of weight_grad spreads at a time (6 x oh rows of 16
// floats: 10.5 KB for oh = 28, so that they stay in L1 with the input's rows; 3 ran as fast,
// 9 and 12 1-2% slower).
constexpr int64_t kGradChannels = 6;

// Input rows for the weight gradient (48 floats a row): XA[c] (c = 0..2) at 8c holds the input
// under tap column c of the A lanes, XB[c] at 24 + 8c that of the B lanes, each zero where its
// lane lies past the output's width (so that +0 gradients never meet an inf there).
constexpr int64_t kGradRowFloats = 48;

// acc[k][a * 3 + c][h] (in memory) += sum over conv rows i of G[k][i][h] * X[i + a - ph][h][c],
// for k < NB channels, the three taps c of tap row a and one half h: 3 NB accumulators and the
// three input vectors stay in registers, so each row is 3 + NB loads for 3 NB FMAs (the
// per-channel loop it replaced loaded the nine input vectors again for every channel and
// spilled its accumulators; both halves at once, 12 accumulators with the input vectors as FMA
// operands, was load-bound: the fused conv1 backward 767 against 645 us on one thread).
// Not inlined: GCC then keeps the accumulators and the input vectors in registers (inlined into
// weight_grad it reloaded them: the fused conv1 backward 1052-1199 against 851 us).
template <int NB>
RV_AVX2_TARGET __attribute__((noinline)) void tap_row(const float* G, int64_t oh,
                                                      const float* Xs, int64_t i0, int64_t i1,
                                                      int64_t shift, int a, int h, float* acc) {
  __m256 s[NB][3];
  for (int k = 0; k < NB; ++k)
    for (int c = 0; c < 3; ++c)
      s[k][c] = _mm256_loadu_ps(acc + ((k * 9 + a * 3 + c) * 2 + h) * 8);
  G += h * 8;
  Xs += h * 24;
  for (int64_t i = i0; i < i1; ++i) {
    const float* x = Xs + (i + shift) * kGradRowFloats;
    const __m256 x0 = _mm256_loadu_ps(x), x1 = _mm256_loadu_ps(x + 8),
                 x2 = _mm256_loadu_ps(x + 16);
    for (int k = 0; k < NB; ++k) {
      const __m256 gv = _mm256_loadu_ps(G + (k * oh + i) * 16);
      s[k][0] = _mm256_fmadd_ps(gv, x0, s[k][0]);
      s[k][1] = _mm256_fmadd_ps(gv, x1, s[k][1]);
      s[k][2] = _mm256_fmadd_ps(gv, x2, s[k][2]);
    }
  }
  for (int k = 0; k < NB; ++k)
    for (int c = 0; c < 3; ++c)
      _mm256_storeu_ps(acc + ((k * 9 + a * 3 + c) * 2 + h) * 8, s[k][c]);
}

// dw [co * 9] and db [co] over samples [n0, n1). For each 16-column block and sample, the
// input's rows are split once into the A and B lanes' taps (Xs) and the output gradient's rows
// of kGradChannels channels at a time are spread once (G); tap_row then accumulates three
// channels by three taps, one half at a time. Every accumulator lane adds its terms block by
// block, sample by sample, row by row, whichever Rows supplies them (so the fused op and the
// three ops give the same bits); a weight's two halves are added lane-wise, then the lanes in
// a fixed order.
template <class Rows>
RV_AVX2_TARGET void weight_grad(const ConvGeom& g, int64_t n0, int64_t n1, const float* img,
                                const Rows& rows, float* dw, float* db) {
  const int64_t HW = g.h * g.w, blocks = (g.ow + 15) / 16;
  std::vector<float> acc_store, bacc_store, xs_store, g_store, pad_store;
  float* const acc = aligned64(acc_store, g.co * 9 * 16);
  float* const bacc = aligned64(bacc_store, g.co * 16);
  float* const Xs = aligned64(xs_store, g.h * kGradRowFloats);
  float* const G = aligned64(g_store, kGradChannels * g.oh * 16);
  // one input row with its zero padding: column col at pad[col + g.pw]
  float* const pad = aligned64(pad_store, 16 * blocks + 24);
  for (int64_t jb = 0; jb < blocks; ++jb) {
    const int64_t j0 = 16 * jb;
    const __m256 ma = _mm256_castsi256_ps(first8((g.ow - j0 + 1) / 2)),
                 mb = _mm256_castsi256_ps(first8((g.ow - j0) / 2));
    for (int64_t n = n0; n < n1; ++n) {
      const float* x = img + n * HW;
      for (int64_t r = 0; r < g.h; ++r) {
        std::copy(x + r * g.w, x + (r + 1) * g.w, pad + g.pw);
        __m256 ev[4];  // columns j0 + 2m + d - pw, d = 0..3
        for (int d = 0; d < 4; ++d)
          ev[d] = alternate_columns<false>(_mm256_loadu_ps(pad + j0 + d),
                                           _mm256_loadu_ps(pad + j0 + d + 8));
        float* xr = Xs + r * kGradRowFloats;
        for (int c = 0; c < 3; ++c) {
          _mm256_storeu_ps(xr + 8 * c, _mm256_and_ps(ev[c], ma));
          _mm256_storeu_ps(xr + 24 + 8 * c, _mm256_and_ps(ev[c + 1], mb));
        }
      }
      for (int64_t o0 = 0; o0 < g.co; o0 += kGradChannels) {
        const int64_t nb = std::min(kGradChannels, g.co - o0);
        for (int64_t k = 0; k < nb; ++k) {
          float* bk = bacc + (o0 + k) * 16;
          __m256 bA = _mm256_loadu_ps(bk), bB = _mm256_loadu_ps(bk + 8);
          rows.plane(n, o0 + k, j0, G + k * g.oh * 16, bA, bB);
          _mm256_storeu_ps(bk, bA);
          _mm256_storeu_ps(bk + 8, bB);
        }
        for (int64_t k = 0; k < nb; k += 3) {
          const float* Gk = G + k * g.oh * 16;
          float* ak = acc + (o0 + k) * 144;
          for (int a = 0; a < 3; ++a) {
            // conv rows i whose input row i + a - ph lies in the image (the rest add nothing)
            const int64_t shift = a - g.ph;
            const int64_t i0 = std::max<int64_t>(0, -shift);
            const int64_t i1 = std::min<int64_t>(g.oh, g.h - shift);
            for (int h = 0; h < 2; ++h) {
              switch (std::min<int64_t>(3, nb - k)) {
                case 3: tap_row<3>(Gk, g.oh, Xs, i0, i1, shift, a, h, ak); break;
                case 2: tap_row<2>(Gk, g.oh, Xs, i0, i1, shift, a, h, ak); break;
                default: tap_row<1>(Gk, g.oh, Xs, i0, i1, shift, a, h, ak); break;
              }
            }
          }
        }
      }
    }
  }
  for (int64_t o = 0; o < g.co; ++o) {
    for (int t = 0; t < 9; ++t) {
      const float* at = acc + (o * 9 + t) * 16;
      dw[o * 9 + t] = hsum(_mm256_add_ps(_mm256_loadu_ps(at), _mm256_loadu_ps(at + 8)));
    }
    const float* bo = bacc + o * 16;
    if (db) db[o] = hsum(_mm256_add_ps(_mm256_loadu_ps(bo), _mm256_loadu_ps(bo + 8)));
  }
}

}  // namespace

// Output channels per step of the plain forward: 4 ran 709 us, 6 668, 8 (spilled) 818, one at a
// time 749-768 (64 samples of 28 x 28, 32 channels, one thread).
constexpr int kForwardChannels = 6;
// Channels o .. o + Q - 1 of one row block of single_channel_forward_avx2 (Q FMA chains in
// flight; one chain of nine waited on the FMA latency), stored L apart from dst.
template <int Q>
RV_AVX2_TARGET inline void conv_channels(const float* wt, const float* bias, int64_t o,
                                         const __m256 (&v)[9], float* dst, int64_t L,
                                         int64_t nc) {
  __m256 acc[Q];
  for (int q = 0; q < Q; ++q) acc[q] = _mm256_set1_ps(bias ? bias[o + q] : 0.0f);
  for (int t = 0; t < 9; ++t)
    for (int q = 0; q < Q; ++q)
      acc[q] = _mm256_fmadd_ps(_mm256_set1_ps(wt[(o + q) * 9 + t]), v[t], acc[q]);
  for (int q = 0; q < Q; ++q) store_first(dst + (o + q) * L, acc[q], nc);
}

RV_AVX2_TARGET void single_channel_forward_avx2(const ConvGeom& g, int64_t n, const float* img,
                                                const float* wt, const float* bias,
                                                float* mat) {
  const float* x = img + n * g.h * g.w;
  const int64_t L = g.oh * g.ow;
  float* y = mat + n * g.co * L;
  for (int64_t j0 = 0; j0 < g.ow; j0 += 8) {
    const int64_t nc = std::min<int64_t>(8, g.ow - j0);
    const __m256i m = first8(nc);
    __m256i km[3];
    shift_masks(g, j0, m, km);
    for (int64_t i = 0; i < g.oh; ++i) {
      __m256 v[9];
      for (int a = 0; a < 3; ++a) {
        const int64_t r = i + a - g.ph;
        const float* row = x + r * g.w + j0 - g.pw;
        for (int c = 0; c < 3; ++c)
          v[a * 3 + c] = r < 0 || r >= g.h ? _mm256_setzero_ps()
                                           : _mm256_maskload_ps(row + c, km[c]);
      }
      float* dst = y + i * g.ow + j0;
      int64_t o = 0;
      for (; o + kForwardChannels <= g.co; o += kForwardChannels)
        conv_channels<kForwardChannels>(wt, bias, o, v, dst, L, nc);
      for (; o < g.co; ++o) conv_channels<1>(wt, bias, o, v, dst, L, nc);
    }
  }
}

void single_channel_weight_grad_avx2(const ConvGeom& g, int64_t n0, int64_t n1, const float* img,
                                     const float* gmat, float* dw, float* db) {
  weight_grad(g, n0, n1, img, DenseRows{gmat, g.co, g.oh * g.ow, g.ow, g.oh}, dw, db);
}

void single_channel_pooled_weight_grad_avx2(const ConvGeom& g, int64_t n0, int64_t n1,
                                            const float* img, const float* gpool,
                                            const uint8_t* codes, float* dw, float* db) {
  const int64_t pw = g.ow / 2;
  const int64_t P = (g.oh / 2) * pw;
  weight_grad(g, n0, n1, img, PooledRows{gpool, codes, g.co, P, pw, g.oh, g.n * g.co * P}, dw,
              db);
}

// R pooled rows of one channel and one block of 8 pooled columns (16 conv columns), from the
// block's input rows in xs (kRowFloats each, from the first conv row's first input row):
// X[c] of an input row holds its columns j0 + 2l + c - pw (l = 0..7), so shift c gives the
// even conv columns' tap c and shift c + 1 the odd ones'. Each conv value is the forward's
// FMA chain (bias b, then the taps in row-major order with the weights k); the four taps of
// pooled column l are then lane l of the even / odd columns of the two conv rows, so relu
// and the pool run on whole vectors with no shuffles. np pooled columns are stored at y /
// cd, pw apart per pooled row.
constexpr int64_t kRowFloats = 32;  // four shifts of 8

template <int R>
RV_AVX2_TARGET inline void pool_rows(const float* v, const float* k, __m256 b, int64_t np,
                                     float* y, uint8_t* cd, int64_t pw, int64_t room) {
  __m256 r[2 * R][2];  // conv rows 2q, 2q + 1 of each pooled row q; even / odd columns
  for (int i = 0; i < 2 * R; ++i) r[i][0] = r[i][1] = b;
  for (int a = 0; a < 3; ++a)
    for (int c = 0; c < 3; ++c) {
      const __m256 kt = _mm256_set1_ps(k[a * 3 + c]);
      const float* vt = v + a * kRowFloats + c * 8;
      for (int i = 0; i < 2 * R; ++i) {
        r[i][0] = _mm256_fmadd_ps(kt, _mm256_loadu_ps(vt + i * kRowFloats), r[i][0]);
        r[i][1] = _mm256_fmadd_ps(kt, _mm256_loadu_ps(vt + i * kRowFloats + 8), r[i][1]);
      }
    }
  __m256 best[R];
  __m256i code[R];
  for (int q = 0; q < R; ++q)
    rp::pool4(rp::relu(r[2 * q][0]), rp::relu(r[2 * q][1]), rp::relu(r[2 * q + 1][0]),
              rp::relu(r[2 * q + 1][1]), best[q], code[q]);
  // all 8 lanes where the 8 - np past the row's end are written again later (see below)
  if (R == 2 && room - pw >= 8) {
    _mm256_storeu_ps(y, best[0]);
    _mm256_storeu_ps(y + pw, best[R - 1]);
    // both rows' codes as bytes at once: int32 -> int16 -> uint8 (per 128-bit half: row 0's
    // four, then row 1's), the halves' dwords then unpacked into row 0's 8 and row 1's 8
    const __m256i w = _mm256_packs_epi32(code[0], code[R - 1]);
    const __m256i b8 = _mm256_packus_epi16(w, w);
    const __m128i u = _mm_unpacklo_epi32(_mm256_castsi256_si128(b8),
                                         _mm256_extracti128_si256(b8, 1));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(cd), u);
    _mm_storeh_pd(reinterpret_cast<double*>(cd + pw), _mm_castsi128_pd(u));
    return;
  }
  for (int q = 0; q < R; ++q)
    rp::store(y + q * pw, cd + q * pw, room - q * pw >= 8 ? 8 : np, best[q], code[q]);
}

// conv -> relu -> 2x2 max pool of samples [n0, n1), 8 pooled columns (16 conv columns) and two
// pooled rows of one channel at a time (pool_rows). A block's input rows are first copied into
// xs, split into even and odd columns with the zero padding (rows -ph .. oh + 1 - ph), so that
// the FMAs read their second operand straight from L1 while the weights are broadcast once per
// tap for 8 FMA chains.
// A last block narrower than 8 pooled columns still stores 8 lanes (storing 6 floats in
// pieces cost more than the pool: 521 against 439 us a forward of the cnn's conv1 on one
// thread): the blocks run last to first, so what it writes past its row's end lands on the
// next rows' first columns (or the next channel's), which block 0 writes afterwards; only
// where those 8 lanes would pass the end of the sample's output (another thread's, or the
// tensor's end) do the pieces remain.
RV_AVX2_TARGET void single_channel_relu_pool_forward_avx2(const ConvGeom& g, int64_t n0,
                                                          int64_t n1, const float* img,
                                                          const float* wt, const float* bias,
                                                          float* pooled, uint8_t* codes) {
  const int64_t ph = g.oh / 2, pw = g.ow / 2, P = ph * pw, rows = g.oh + 2;
  const int64_t blocks = (g.ow + 15) / 16;
  std::vector<float> xs_store;
  float* const xs = aligned64(xs_store, rows * kRowFloats);
  // one input row with its zero padding: column col at pad[col + g.pw]; wide enough for the
  // last block's shift-3 vectors (columns up to 16 * blocks + 2 - g.pw)
  std::vector<float> pad(size_t(16 * blocks + 24), 0.0f);
  for (int64_t n = n0; n < n1; ++n) {
    const float* x = img + n * g.h * g.w;
    float* y = pooled + n * g.co * P;
    uint8_t* cy = codes + n * g.co * P;
    for (int64_t jb = blocks - 1; jb >= 0; --jb) {
      const int64_t j0 = 16 * jb;
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t ir = r - g.ph;
        float* dst = xs + r * kRowFloats;
        if (ir < 0 || ir >= g.h) {
          std::fill(dst, dst + kRowFloats, 0.0f);
          continue;
        }
        std::copy(x + ir * g.w, x + (ir + 1) * g.w, pad.begin() + g.pw);
        for (int c = 0; c < 4; ++c) {
          const float* s = pad.data() + j0 + c;
          _mm256_storeu_ps(dst + c * 8, alternate_columns<false>(_mm256_loadu_ps(s),
                                                                 _mm256_loadu_ps(s + 8)));
        }
      }
      const int64_t np = std::min<int64_t>(8, (g.ow - j0) / 2);
      for (int64_t o = 0; o < g.co; ++o) {
        const float* k = wt + o * 9;
        const __m256 b = _mm256_set1_ps(bias ? bias[o] : 0.0f);
        float* yo = y + o * P + j0 / 2;
        uint8_t* co = cy + o * P + j0 / 2;
        int64_t p = 0;
        const int64_t room = g.co * P - (o * P + j0 / 2);
        for (; p + 2 <= ph; p += 2)
          pool_rows<2>(xs + 2 * p * kRowFloats, k, b, np, yo + p * pw, co + p * pw, pw,
                       room - p * pw);
        if (p < ph)
          pool_rows<1>(xs + 2 * p * kRowFloats, k, b, np, yo + p * pw, co + p * pw, pw,
                       room - p * pw);
      }
    }
  }
}

}  // namespace ranvier::cpu
