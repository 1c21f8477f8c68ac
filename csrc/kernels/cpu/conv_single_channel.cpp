// Direct AVX-512 kernels for 3x3 / stride 1 / one-input-channel convolutions (see
// conv_single_channel.h), and the driver that picks them or the AVX2 ones
// (conv_single_channel_avx2.cpp) by the CPU capability in use (Note [CPU capability]).
// Outputs go 16 columns at a time: the nine shifted input vectors of an output row block are
// loaded once (masked loads supply the zero padding) and reused for every output channel.
// Compiled for AVX-512 (F, BW and VL: the fused pool's byte codes use BW / VL) through function
// attributes; with neither AVX-512 nor AVX2 conv2d takes its GEMM path.
#include "kernels/cpu/conv_single_channel.h"
#include "core/cpu_capability.h"

#include <immintrin.h>

#include <algorithm>
#include <vector>

#include "core/parallel.h"
#include "kernels/cpu/relu_pool_avx512.h"

// GCC 12 warns about its own intrinsics headers (an undefined register used as a blend source).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace ranvier::cpu {

// kernels/cpu/conv_single_channel_avx2.cpp
void single_channel_forward_avx2(const ConvGeom& g, int64_t n, const float* img, const float* wt,
                                 const float* bias, float* mat);
void single_channel_weight_grad_avx2(const ConvGeom& g, int64_t n0, int64_t n1, const float* img,
                                     const float* gmat, float* dw, float* db);
void single_channel_pooled_weight_grad_avx2(const ConvGeom& g, int64_t n0, int64_t n1,
                                            const float* img, const float* gpool,
                                            const uint8_t* codes, float* dw, float* db);
void single_channel_relu_pool_forward_avx2(const ConvGeom& g, int64_t n0, int64_t n1,
                                           const float* img, const float* wt, const float* bias,
                                           float* pooled, uint8_t* codes);

namespace {

// Which kernels run: the AVX-512 ones, the AVX2 ones, or none (conv2d's GEMM path).
enum class Kernels { None, Avx2, Avx512 };

Kernels kernels() {
  static const Kernels k = cpu_uses_avx512() ? Kernels::Avx512
                           : cpu_uses_avx2() ? Kernels::Avx2
                                             : Kernels::None;
  return k;
}

#define RV_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl")))

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

// Rows of the output gradient for the weight gradient: a dense [n, co, oh, ow] map, or (the
// fused conv -> relu -> 2x2 max pool) the pooled gradient spread to each window's chosen tap.
struct DenseRows {
  const float* gmat;
  int64_t co, L, ow;
  RV_AVX512 __m512 operator()(int64_t n, int64_t o, int64_t i, int64_t j0, __mmask16 m) const {
    return _mm512_maskz_loadu_ps(m, gmat + (n * co + o) * L + i * ow + j0);
  }
};

// The pooled gradient spread to each window's chosen tap (relu_pool::spread16).
struct PooledRows {
  const float* gpool;
  const uint8_t* codes;
  int64_t co, P, pw, ow;
  RV_AVX512 __m512 operator()(int64_t n, int64_t o, int64_t i, int64_t j0, __mmask16 m) const {
    const int64_t at = (n * co + o) * P + (i >> 1) * pw + j0 / 2;
    return relu_pool::spread16(gpool + at, codes + at, i, m, lanes((ow - j0) / 2));
  }
};

// Two output channels at a time (20 accumulators and 9 taps fit the 32 vector registers); the
// taps' column masks depend only on the column block, so they are computed once per block.
template <class Rows>
RV_AVX512 void weight_grad_avx512(const ConvGeom& g, int64_t n0, int64_t n1, const float* img,
                                  const Rows& rows, float* dw, float* db) {
  const int64_t HW = g.h * g.w;
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
        for (int64_t i = 0; i < g.oh; ++i) {
          const __m512 g0 = rows(n, o0, i, j0, m);
          const __m512 g1 = two ? rows(n, o0 + 1, i, j0, m) : _mm512_setzero_ps();
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

// conv -> relu -> 2x2 max pool of sample n, 16 conv columns (8 pooled) and two conv rows at a
// time. Each conv value is the forward kernel's (same FMA chain); the pooled lanes' four taps
// are the even and odd columns of the two rows.
RV_AVX512 void relu_pool_forward_avx512(const ConvGeom& g, int64_t n, const float* img,
                                        const float* wt, const float* bias, float* pooled,
                                        uint8_t* codes) {
  const float* x = img + n * g.h * g.w;
  const int64_t ph = g.oh / 2, pw = g.ow / 2, P = ph * pw;
  float* y = pooled + n * g.co * P;
  uint8_t* cy = codes + n * g.co * P;
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 0, 0, 0, 0, 0, 0, 0, 0);
  const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
  const __m512 zero = _mm512_setzero_ps();
  for (int64_t j0 = 0; j0 < g.ow; j0 += 16) {
    const __mmask16 m = lanes(g.ow - j0);
    const __mmask16 pm = lanes((g.ow - j0) / 2);
    const __mmask16 km[3] = {__mmask16(inside(j0 - g.pw, g.w) & m),
                             __mmask16(inside(j0 + 1 - g.pw, g.w) & m),
                             __mmask16(inside(j0 + 2 - g.pw, g.w) & m)};
    for (int64_t p = 0; p < ph; ++p) {
      __m512 v[12];  // input rows 2p - g.ph .. 2p - g.ph + 3, three shifts each
      for (int a = 0; a < 4; ++a) {
        const int64_t r = 2 * p + a - g.ph;
        const float* row = x + r * g.w + j0 - g.pw;
        for (int c = 0; c < 3; ++c)
          v[a * 3 + c] = r < 0 || r >= g.h ? zero : _mm512_maskz_loadu_ps(km[c], row + c);
      }
      for (int64_t o = 0; o < g.co; ++o) {
        const float* k = wt + o * 9;
        __m512 r0 = _mm512_set1_ps(bias ? bias[o] : 0.0f), r1 = r0;
        for (int t = 0; t < 9; ++t) {
          const __m512 kt = _mm512_set1_ps(k[t]);
          r0 = _mm512_fmadd_ps(kt, v[t], r0);
          r1 = _mm512_fmadd_ps(kt, v[t + 3], r1);
        }
        r0 = relu_pool::relu(r0);
        r1 = relu_pool::relu(r1);
        __m512 best;
        __m512i code;
        relu_pool::pool4(_mm512_permutexvar_ps(even, r0), _mm512_permutexvar_ps(odd, r0),
                         _mm512_permutexvar_ps(even, r1), _mm512_permutexvar_ps(odd, r1), best,
                         code);
        const int64_t at = o * P + p * pw + j0 / 2;
        relu_pool::store(y + at, cy + at, pm, best, code);
      }
    }
  }
}

}  // namespace

bool single_channel_applies(const ConvGeom& g) {
  return kernels() != Kernels::None && g.dtype == DType::Float32 && g.groups == 1 && g.ci == 1 &&
         g.kh == 3 && g.kw == 3 && g.sh == 1 && g.sw == 1 && g.dh == 1 && g.dw == 1 && g.ph <= 2 &&
         g.pw <= 2 && g.oh == g.h + 2 * g.ph - 2 && g.ow == g.w + 2 * g.pw - 2;
}

void single_channel_forward(const ConvGeom& g, int64_t n, const float* img, const float* wt,
                            const float* bias, float* mat) {
  if (kernels() == Kernels::Avx512) return forward_avx512(g, n, img, wt, bias, mat);
  single_channel_forward_avx2(g, n, img, wt, bias, mat);
}

void single_channel_relu_pool_forward(const ConvGeom& g, const float* img, const float* wt,
                                      const float* bias, float* pooled, uint8_t* codes) {
  const bool avx512 = kernels() == Kernels::Avx512;
  parallel_for(0, g.n, 1, [&](int64_t n0, int64_t n1) {
    if (!avx512)
      return single_channel_relu_pool_forward_avx2(g, n0, n1, img, wt, bias, pooled, codes);
    for (int64_t n = n0; n < n1; ++n) relu_pool_forward_avx512(g, n, img, wt, bias, pooled, codes);
  });
}

namespace {

// dw / db as the sum of per-chunk partials (kSingleChannelChunk samples each, computed in
// parallel by partial(n0, n1, dw, db)), added in chunk order: the same bits for any thread
// count.
template <class Partial>
void weight_grad_batch(const ConvGeom& g, const Partial& partial, float* dw, float* db) {
  const int64_t chunks = (g.n + kSingleChannelChunk - 1) / kSingleChannelChunk;
  const int64_t wsize = g.co * 9;
  std::vector<float> pw(size_t(std::max<int64_t>(chunks, 1) * wsize)),
      pb(size_t(std::max<int64_t>(chunks, 1) * g.co));  // zeros for an empty batch
  parallel_for(0, chunks, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c)
      partial(c * kSingleChannelChunk, std::min(g.n, (c + 1) * kSingleChannelChunk),
              pw.data() + c * wsize, pb.data() + c * g.co);
  });
  for (int64_t c = 1; c < chunks; ++c) {
    for (int64_t i = 0; i < wsize; ++i) pw[size_t(i)] += pw[size_t(c * wsize + i)];
    for (int64_t i = 0; i < g.co; ++i) pb[size_t(i)] += pb[size_t(c * g.co + i)];
  }
  if (dw) std::copy(pw.begin(), pw.begin() + wsize, dw);
  if (db) std::copy(pb.begin(), pb.begin() + g.co, db);
}

}  // namespace

void single_channel_weight_grad(const ConvGeom& g, const float* img, const float* gmat,
                                float* dw, float* db) {
  const bool avx512 = kernels() == Kernels::Avx512;
  const DenseRows rows{gmat, g.co, g.oh * g.ow, g.ow};
  weight_grad_batch(g, [&](int64_t n0, int64_t n1, float* pw, float* pb) {
    if (avx512) return weight_grad_avx512(g, n0, n1, img, rows, pw, pb);
    single_channel_weight_grad_avx2(g, n0, n1, img, gmat, pw, pb);
  }, dw, db);
}

void single_channel_relu_pool_weight_grad(const ConvGeom& g, const float* img,
                                          const float* gpool, const uint8_t* codes, float* dw,
                                          float* db) {
  const bool avx512 = kernels() == Kernels::Avx512;
  const int64_t pw = g.ow / 2;
  const PooledRows rows{gpool, codes, g.co, (g.oh / 2) * pw, pw, g.ow};
  weight_grad_batch(g, [&](int64_t n0, int64_t n1, float* pwp, float* pbp) {
    if (avx512) return weight_grad_avx512(g, n0, n1, img, rows, pwp, pbp);
    single_channel_pooled_weight_grad_avx2(g, n0, n1, img, gpool, codes, pwp, pbp);
  }, dw, db);
}

}  // namespace ranvier::cpu
