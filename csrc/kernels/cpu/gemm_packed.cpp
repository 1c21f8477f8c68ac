// The packed-panel GEMM of gemm_packed.h: panel packing, the AVX-512 / AVX2 float micro-kernels,
// the portable kernel (double, other CPUs) and the run-time choice between them.
// Rows past M inside a tile read a valid row of A again and are not stored, and columns past
// ncols are zero in the panel and not stored, so edge tiles run the same FMA chain per element
// as full ones (Note [Packed GEMM determinism]).
#include "kernels/cpu/gemm_packed.h"
#include "kernels/cpu/transpose_avx2.h"
#include "core/cpu_capability.h"

#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <vector>

namespace ranvier::cpu {

namespace {

constexpr int64_t NR = kPackNr;
#define RV_ALWAYS_INLINE_GEMM inline __attribute__((always_inline))

// Writes an MR x NR tile held in acc (row i at acc + i * NR) to C: mr rows, nc columns; with a
// bias row, C = bias + acc (C's old contents unread).
template <typename T>
inline void store_tile(const T* acc, int64_t mr, int64_t nc, T* c, int64_t ldc, bool accumulate,
                       const T* bias = nullptr) {
  for (int64_t i = 0; i < mr; ++i) {
    T* cr = c + i * ldc;
    const T* ar = acc + i * NR;
    if (bias) {
      for (int64_t n = 0; n < nc; ++n) cr[n] = bias[n] + ar[n];
    } else if (accumulate) {
      for (int64_t n = 0; n < nc; ++n) cr[n] = cr[n] + ar[n];
    } else {
      for (int64_t n = 0; n < nc; ++n) cr[n] = ar[n];
    }
  }
}

// ---------------------------------------------------------------- AVX-512: 8 x 32 tiles
#define RV_AVX512 __attribute__((target("avx512f,avx512dq,avx512vl,avx512bw,fma,avx2")))

// kTransA: A is stored transposed (A[m, k] at a[k * lda + m]), so that the eight values
// broadcast for one k are neighbours; otherwise A[m, k] is at a[m * lda + k].
template <bool kTransA>
RV_AVX512 void panel_avx512(int64_t M, int64_t K, const float* a, int64_t lda,
                            const float* p, int64_t ncols, float* c, int64_t ldc,
                            bool accumulate, const float* bias, int64_t ldp) {
  constexpr int MR = 8;
  const int64_t rs = kTransA ? 1 : lda, cs = kTransA ? lda : 1;
  for (int64_t m0 = 0; m0 < M; m0 += MR) {
    const int64_t mr = std::min<int64_t>(MR, M - m0);
    const float* a0 = a + (m0 + std::min<int64_t>(0, mr - 1)) * rs;
    const float* a1 = a + (m0 + std::min<int64_t>(1, mr - 1)) * rs;
    const float* a2 = a + (m0 + std::min<int64_t>(2, mr - 1)) * rs;
    const float* a3 = a + (m0 + std::min<int64_t>(3, mr - 1)) * rs;
    const float* a4 = a + (m0 + std::min<int64_t>(4, mr - 1)) * rs;
    const float* a5 = a + (m0 + std::min<int64_t>(5, mr - 1)) * rs;
    const float* a6 = a + (m0 + std::min<int64_t>(6, mr - 1)) * rs;
    const float* a7 = a + (m0 + std::min<int64_t>(7, mr - 1)) * rs;
    __m512 c00 = _mm512_setzero_ps(), c01 = _mm512_setzero_ps();
    __m512 c10 = _mm512_setzero_ps(), c11 = _mm512_setzero_ps();
    __m512 c20 = _mm512_setzero_ps(), c21 = _mm512_setzero_ps();
    __m512 c30 = _mm512_setzero_ps(), c31 = _mm512_setzero_ps();
    __m512 c40 = _mm512_setzero_ps(), c41 = _mm512_setzero_ps();
    __m512 c50 = _mm512_setzero_ps(), c51 = _mm512_setzero_ps();
    __m512 c60 = _mm512_setzero_ps(), c61 = _mm512_setzero_ps();
    __m512 c70 = _mm512_setzero_ps(), c71 = _mm512_setzero_ps();
    const float* pk = p;
    for (int64_t k = 0; k < K; ++k, pk += ldp) {
      const int64_t ka = k * cs;
      const __m512 b0 = _mm512_loadu_ps(pk);
      const __m512 b1 = _mm512_loadu_ps(pk + 16);
      __m512 v = _mm512_set1_ps(a0[ka]);
      c00 = _mm512_fmadd_ps(v, b0, c00);
      c01 = _mm512_fmadd_ps(v, b1, c01);
      v = _mm512_set1_ps(a1[ka]);
      c10 = _mm512_fmadd_ps(v, b0, c10);
      c11 = _mm512_fmadd_ps(v, b1, c11);
      v = _mm512_set1_ps(a2[ka]);
      c20 = _mm512_fmadd_ps(v, b0, c20);
      c21 = _mm512_fmadd_ps(v, b1, c21);
      v = _mm512_set1_ps(a3[ka]);
      c30 = _mm512_fmadd_ps(v, b0, c30);
      c31 = _mm512_fmadd_ps(v, b1, c31);
      v = _mm512_set1_ps(a4[ka]);
      c40 = _mm512_fmadd_ps(v, b0, c40);
      c41 = _mm512_fmadd_ps(v, b1, c41);
      v = _mm512_set1_ps(a5[ka]);
      c50 = _mm512_fmadd_ps(v, b0, c50);
      c51 = _mm512_fmadd_ps(v, b1, c51);
      v = _mm512_set1_ps(a6[ka]);
      c60 = _mm512_fmadd_ps(v, b0, c60);
      c61 = _mm512_fmadd_ps(v, b1, c61);
      v = _mm512_set1_ps(a7[ka]);
      c70 = _mm512_fmadd_ps(v, b0, c70);
      c71 = _mm512_fmadd_ps(v, b1, c71);
    }
    float* cm = c + m0 * ldc;
    if (ncols == NR && mr == MR) {
      const __m512 acc[16] = {c00, c01, c10, c11, c20, c21, c30, c31,
                              c40, c41, c50, c51, c60, c61, c70, c71};
      const __m512 bias_lo = bias ? _mm512_loadu_ps(bias) : _mm512_setzero_ps();
      const __m512 bias_hi = bias ? _mm512_loadu_ps(bias + 16) : _mm512_setzero_ps();
      for (int i = 0; i < MR; ++i) {
        float* cr = cm + i * ldc;
        __m512 lo = acc[2 * i], hi = acc[2 * i + 1];
        if (bias) {
          lo = _mm512_add_ps(bias_lo, lo);
          hi = _mm512_add_ps(bias_hi, hi);
        } else if (accumulate) {
          lo = _mm512_add_ps(_mm512_loadu_ps(cr), lo);
          hi = _mm512_add_ps(_mm512_loadu_ps(cr + 16), hi);
        }
        _mm512_storeu_ps(cr, lo);
        _mm512_storeu_ps(cr + 16, hi);
      }
    } else {
      alignas(64) float tile[MR * NR];
      const __m512 acc[16] = {c00, c01, c10, c11, c20, c21, c30, c31,
                              c40, c41, c50, c51, c60, c61, c70, c71};
      for (int i = 0; i < 16; ++i) _mm512_store_ps(tile + 16 * i, acc[i]);
      store_tile(tile, mr, ncols, cm, ldc, accumulate, bias);
    }
  }
}

// A panel of at most 16 valid columns (the last of a matrix whose width is 32 k + 1 .. 16):
// 8 x 16 tiles (zmm), or 8 x 8 (ymm, whose FMAs run two a cycle on Zen 4 where zmm run one) for
// at most 8 columns; each element is the same FMA chain as in panel_avx512.
template <typename V>
struct NarrowOps;
template <>
struct NarrowOps<__m512> {
  using Mask = __mmask16;
  RV_AVX512 static __m512 zero() { return _mm512_setzero_ps(); }
  RV_AVX512 static __m512 load(Mask k, const float* p) { return _mm512_maskz_loadu_ps(k, p); }
  RV_AVX512 static __m512 bcast(float x) { return _mm512_set1_ps(x); }
  RV_AVX512 static __m512 fma(__m512 a, __m512 b, __m512 c) { return _mm512_fmadd_ps(a, b, c); }
  RV_AVX512 static __m512 add(__m512 a, __m512 b) { return _mm512_add_ps(a, b); }
  RV_AVX512 static void store(float* p, Mask k, __m512 v) { _mm512_mask_storeu_ps(p, k, v); }
};
template <>
struct NarrowOps<__m256> {
  using Mask = __mmask8;
  RV_AVX512 static __m256 zero() { return _mm256_setzero_ps(); }
  RV_AVX512 static __m256 load(Mask k, const float* p) { return _mm256_maskz_loadu_ps(k, p); }
  RV_AVX512 static __m256 bcast(float x) { return _mm256_set1_ps(x); }
  RV_AVX512 static __m256 fma(__m256 a, __m256 b, __m256 c) { return _mm256_fmadd_ps(a, b, c); }
  RV_AVX512 static __m256 add(__m256 a, __m256 b) { return _mm256_add_ps(a, b); }
  RV_AVX512 static void store(float* p, Mask k, __m256 v) { _mm256_mask_storeu_ps(p, k, v); }
};

template <bool kTransA, typename V>
RV_AVX512 void panel_avx512_narrow(int64_t M, int64_t K, const float* a, int64_t lda,
                                   const float* p, int64_t ncols, float* c, int64_t ldc,
                                   bool accumulate, const float* bias, int64_t ldp) {
  using O = NarrowOps<V>;
  constexpr int MR = 8;
  const int64_t rs = kTransA ? 1 : lda, cs = kTransA ? lda : 1;
  const typename O::Mask cols = typename O::Mask((1u << ncols) - 1u);
  for (int64_t m0 = 0; m0 < M; m0 += MR) {
    const int64_t mr = std::min<int64_t>(MR, M - m0);
    const float* ar[MR];
    for (int i = 0; i < MR; ++i) ar[i] = a + (m0 + std::min<int64_t>(i, mr - 1)) * rs;
    V acc[MR];
    for (int i = 0; i < MR; ++i) acc[i] = O::zero();
    const float* pk = p;
    for (int64_t k = 0; k < K; ++k, pk += ldp) {
      const int64_t ka = k * cs;
      const V b0 = O::load(cols, pk);
      for (int i = 0; i < MR; ++i) acc[i] = O::fma(O::bcast(ar[i][ka]), b0, acc[i]);
    }
    const V bv = bias ? O::load(cols, bias) : O::zero();
    for (int i = 0; i < MR; ++i) {  // constant bounds: acc stays in registers
      if (i >= mr) break;
      float* cr = c + (m0 + i) * ldc;
      V v = acc[i];
      if (bias) v = O::add(bv, v);
      else if (accumulate) v = O::add(O::load(cols, cr), v);
      O::store(cr, cols, v);
    }
  }
}

template <bool kTransA>
RV_AVX512 void panel_avx512_tail(int64_t M, int64_t K, const float* a, int64_t lda,
                                 const float* p, int64_t ncols, float* c, int64_t ldc,
                                 bool accumulate, const float* bias, int64_t ldp) {
  if (ncols <= 8)
    panel_avx512_narrow<kTransA, __m256>(M, K, a, lda, p, ncols, c, ldc, accumulate, bias, ldp);
  else
    panel_avx512_narrow<kTransA, __m512>(M, K, a, lda, p, ncols, c, ldc, accumulate, bias, ldp);
}

// ---------------------------------------------------------------- AVX2 + FMA: 6 x 16 tiles
#define RV_AVX2 __attribute__((target("avx2,fma")))

// Note [Prefetching C]: a training step writes most products into blocks it last touched a
// step earlier, long gone from the caches. A tile's stores come all at once after its K loop,
// too sparse for the hardware's stream detection, so each missed line stalled the stores on a
// read for ownership: gpt's qkv forward (1,024 x 384 out) ran 708 us into blocks cycled out of
// the caches against 574 into a hot one (two Zen 3 threads). Prefetching the tile's lines of C
// before the K loop overlaps those reads with the FMAs: 582 against 576, and the gpt forward
// 14.9 -> 14.2 ms.

// One MR x 8 NV tile of C (mr <= MR valid rows at c, nc <= 8 NV of the panel's columns from
// p): row i's A values are ar[i][k * cs]. MR rows of NV 8-float accumulators, one FMA chain
// per element in k order. NV = 1 serves a half panel of at most 8 columns (the Winograd
// products of 2 x 49 tiles end in a panel of 2 columns, which 16-wide tiles ran as 16).
template <int MR, int NV>
RV_AVX2 inline void tile_avx2(const float* const* ar, int64_t cs, int64_t mr, int64_t K,
                              const float* p, int64_t nc, float* c, int64_t ldc,
                              bool accumulate, const float* bias, int64_t ldp) {
  __m256 acc[NV][MR];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NV; ++j) acc[j][i] = _mm256_setzero_ps();
  // The tile's rows of C are fetched while the FMAs run (Note [Prefetching C]).
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) {
    if (i < mr) {
      _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + 8 * NV - 1), _MM_HINT_T0);
    }
  }
  const float* pk = p;
  for (int64_t k = 0; k < K; ++k, pk += ldp) {
    const int64_t ka = k * cs;
    __m256 b[NV];
    for (int j = 0; j < NV; ++j) b[j] = _mm256_loadu_ps(pk + 8 * j);
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      const __m256 v = _mm256_broadcast_ss(ar[i] + ka);
      for (int j = 0; j < NV; ++j) acc[j][i] = _mm256_fmadd_ps(v, b[j], acc[j][i]);
    }
  }
  float* cm = c;
  if (NV == 2 && nc == 16 && mr == MR) {
    const __m256 bias_lo = bias ? _mm256_loadu_ps(bias) : _mm256_setzero_ps();
    const __m256 bias_hi = bias ? _mm256_loadu_ps(bias + 8) : _mm256_setzero_ps();
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      float* cr = cm + i * ldc;
      __m256 l = acc[0][i], u = acc[NV - 1][i];
      if (bias) {
        l = _mm256_add_ps(bias_lo, l);
        u = _mm256_add_ps(bias_hi, u);
      } else if (accumulate) {
        l = _mm256_add_ps(_mm256_loadu_ps(cr), l);
        u = _mm256_add_ps(_mm256_loadu_ps(cr + 8), u);
      }
      _mm256_storeu_ps(cr, l);
      _mm256_storeu_ps(cr + 8, u);
    }
  } else {
    alignas(32) float tile[MR * NR];
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NV; ++j) _mm256_store_ps(tile + i * NR + 8 * j, acc[j][i]);
    store_tile(tile, mr, nc, cm, ldc, accumulate, bias);
  }
}

// A tile of mr rows (6-row, 4-row or 2-row accumulators) over nc <= 16 columns.
template <int NV>
RV_AVX2 inline void tile_rows_avx2(const float* const* ar, int64_t cs, int64_t mr, int64_t K,
                                   const float* p, int64_t nc, float* c, int64_t ldc,
                                   bool accumulate, const float* bias, int64_t ldp) {
  if (mr > 4)
    tile_avx2<6, NV>(ar, cs, mr, K, p, nc, c, ldc, accumulate, bias, ldp);
  else if (mr > 2)
    tile_avx2<4, NV>(ar, cs, mr, K, p, nc, c, ldc, accumulate, bias, ldp);
  else
    tile_avx2<2, NV>(ar, cs, mr, K, p, nc, c, ldc, accumulate, bias, ldp);
}

// The tiles of an M-row panel product, rows six at a time (12 accumulators) over the panel's
// two halves of 16 columns; a last group of at most 4 or 2 rows runs a 4- or 2-row tile (the
// recurrent products of 16 or 32 rows per thread spent 11% of their FMAs on rows past M).
// rows(m0, mr, ar) sets the A pointers of rows [m0, m0 + mr) (the last repeated up to the
// tile's size) and returns the stride between their k values.
// With split8 (tiles free to start at any row), the last eight rows run as two 4-row tiles
// rather than 6 + 2: the 2-row tile's four FMA chains wait on the FMA latency, half the rate of
// the others (dX of the cnn's conv2 has 32 rows, the lstm's recurrent products 32 a thread).
template <typename Rows>
RV_AVX2 inline void tiles_avx2(int64_t M, int64_t K, const Rows& rows, const float* p,
                               int64_t ncols, float* c, int64_t ldc, bool accumulate,
                               const float* bias, int64_t ldp, bool split8) {
  for (int64_t m0 = 0; m0 < M;) {
    const int64_t mr = split8 && M - m0 == 8 ? 4 : std::min<int64_t>(6, M - m0);
    const float* ar[6];
    const int64_t cs = rows(m0, mr, ar);
    for (int64_t h = 0; h < 2 && h * 16 < ncols; ++h) {
      const int64_t nc = std::min<int64_t>(16, ncols - h * 16);
      const float* bh = bias ? bias + h * 16 : nullptr;
      const float* ph = p + h * 16;
      float* ch = c + m0 * ldc + h * 16;
      if (nc > 8)
        tile_rows_avx2<2>(ar, cs, mr, K, ph, nc, ch, ldc, accumulate, bh, ldp);
      else
        tile_rows_avx2<1>(ar, cs, mr, K, ph, nc, ch, ldc, accumulate, bh, ldp);
    }
    m0 += mr;
  }
}

// A panel of at most 4 valid columns (the Winograd products of 2 x 49 tiles end in one of 2):
// vectors run down the rows of C instead of across the columns, G groups of eight rows at a
// time, so a k step costs G loads of A^T (in place when A is stored transposed, else from 8 x 8
// transposes of K blocks) and NC broadcasts for G x NC FMAs in independent chains, where the
// 6 x 8 tile paid six FMAs for two columns. Each element is the same FMA chain in k order, so
// the bits do not change.
template <int G, int NC>
RV_AVX2 inline void narrow_steps(int64_t K, const float* at, int64_t ldt, const float* p,
                                 int64_t ldp, __m256 (&acc)[G][NC]) {
  for (int64_t k = 0; k < K; ++k) {
    __m256 b[NC];
    for (int j = 0; j < NC; ++j) b[j] = _mm256_broadcast_ss(p + k * ldp + j);
    for (int g = 0; g < G; ++g) {
      const __m256 v = _mm256_loadu_ps(at + k * ldt + 8 * g);
      for (int j = 0; j < NC; ++j) acc[g][j] = _mm256_fmadd_ps(v, b[j], acc[g][j]);
    }
  }
}

template <int G, int NC>
RV_AVX2 void narrow_rows_avx2(bool trans_a, int64_t M, int64_t K, const float* a, int64_t lda,
                              const float* p, int64_t ldp, int64_t nc, float* c, int64_t ldc,
                              bool accumulate, const float* bias) {
  constexpr int64_t R = 8 * G, KB = 2048 / R;  // A^T gathered K blocks of 8 KB at a time
  alignas(32) float at[KB * R];
  for (int64_t m0 = 0; m0 < M; m0 += R) {
    const int64_t mr = std::min<int64_t>(R, M - m0);
    __m256 acc[G][NC];
    for (int g = 0; g < G; ++g)
      for (int j = 0; j < NC; ++j) acc[g][j] = _mm256_setzero_ps();
    for (int64_t k0 = 0; k0 < K; k0 += KB) {
      const int64_t kk = std::min(KB, K - k0);
      const float* rows = at;
      int64_t ldt = R;
      if (trans_a && mr == R) {
        rows = a + k0 * lda + m0;
        ldt = lda;
      } else if (mr == R) {
        const int64_t k8 = kk / 8 * 8;
        for (int g = 0; g < G; ++g) {
          const float* ag = a + (m0 + 8 * g) * lda + k0;
          for (int64_t k = 0; k < k8; k += 8) transpose8(ag + k, lda, at + k * R + 8 * g, R);
          for (int64_t k = k8; k < kk; ++k)
            for (int i = 0; i < 8; ++i) at[k * R + 8 * g + i] = ag[i * lda + k];
        }
      } else {  // the last rows, the last one repeated
        for (int64_t k = 0; k < kk; ++k)
          for (int64_t i = 0; i < R; ++i) {
            const int64_t m = m0 + std::min(i, mr - 1);
            at[k * R + i] = trans_a ? a[(k0 + k) * lda + m] : a[m * lda + k0 + k];
          }
      }
      narrow_steps<G, NC>(kk, rows, ldt, p + k0 * ldp, ldp, acc);
    }
    alignas(32) float t[NC][R];
    for (int g = 0; g < G; ++g)
      for (int j = 0; j < NC; ++j) _mm256_store_ps(t[j] + 8 * g, acc[g][j]);
    for (int64_t i = 0; i < mr; ++i) {
      float* cr = c + (m0 + i) * ldc;
      for (int64_t j = 0; j < nc; ++j)
        cr[j] = bias ? bias[j] + t[j][i] : accumulate ? cr[j] + t[j][i] : t[j][i];
    }
  }
}

RV_AVX2 void narrow_panel_avx2(bool trans_a, int64_t M, int64_t K, const float* a,
                               int64_t lda, const float* p, int64_t ldp, int64_t nc, float* c,
                               int64_t ldc, bool accumulate, const float* bias) {
  // four groups (eight FMA chains) for one or two columns, two groups for three or four
  if (nc <= 2)
    narrow_rows_avx2<4, 2>(trans_a, M, K, a, lda, p, ldp, nc, c, ldc, accumulate, bias);
  else
    narrow_rows_avx2<2, 4>(trans_a, M, K, a, lda, p, ldp, nc, c, ldc, accumulate, bias);
}

// kTransA and ldp as in panel_avx512.
template <bool kTransA>
RV_AVX2 void panel_avx2(int64_t M, int64_t K, const float* a, int64_t lda, const float* p,
                        int64_t ncols, float* c, int64_t ldc, bool accumulate,
                        const float* bias, int64_t ldp) {
  const int64_t rs = kTransA ? 1 : lda, cs = kTransA ? lda : 1;
  tiles_avx2(M, K, [&](int64_t m0, int64_t mr, const float** ar) {
    for (int i = 0; i < 6; ++i) ar[i] = a + (m0 + std::min<int64_t>(i, mr - 1)) * rs;
    return cs;
  }, p, ncols, c, ldc, accumulate, bias, ldp, true);
}

// ---------------------------------------------------------------- portable: 4 x 32 tiles
// Each element's sum runs over k in order; the AVX2 / AVX-512 copies of the double version
// may contract multiply and add into FMA (one fixed choice per machine).
template <typename T>
RV_ALWAYS_INLINE_GEMM void panel_portable(int64_t M, int64_t K, const T* a, int64_t lda,
                                          const T* p, int64_t ncols, T* c, int64_t ldc,
                                          bool accumulate, const T* bias = nullptr) {
  constexpr int MR = 4;
  for (int64_t m0 = 0; m0 < M; m0 += MR) {
    const int64_t mr = std::min<int64_t>(MR, M - m0);
    const T* ar[MR];
    for (int i = 0; i < MR; ++i) ar[i] = a + (m0 + std::min<int64_t>(i, mr - 1)) * lda;
    T acc[MR * NR] = {};
    for (int64_t k = 0; k < K; ++k) {
      const T* pk = p + k * NR;
      for (int i = 0; i < MR; ++i) {
        const T v = ar[i][k];
        T* accr = acc + i * NR;
        for (int64_t n = 0; n < NR; ++n) accr[n] += v * pk[n];
      }
    }
    store_tile(acc, mr, ncols, c + m0 * ldc, ldc, accumulate, bias);
  }
}

int best_isa() {
  return static_cast<int>(cpu_capability());
}

std::atomic<int>& isa_level() {
  static std::atomic<int> level{best_isa()};
  return level;
}

}  // namespace

int gemm_packed_isa() { return isa_level().load(std::memory_order_relaxed); }

int set_gemm_packed_isa(int level) {
  const int v = std::max(0, std::min(level, best_isa()));
  isa_level().store(v, std::memory_order_relaxed);
  return v;
}

template <typename T>
void pack_panel(int64_t K, int64_t N, const T* b, int64_t rs, int64_t cs, T* out) {
  for (int64_t k = 0; k < K; ++k) {
    T* o = out + k * NR;
    const T* bk = b + k * rs;
    for (int64_t n = 0; n < N; ++n) o[n] = bk[n * cs];
    for (int64_t n = N; n < NR; ++n) o[n] = T(0);
  }
}
template void pack_panel<float>(int64_t, int64_t, const float*, int64_t, int64_t, float*);
template void pack_panel<double>(int64_t, int64_t, const double*, int64_t, int64_t, double*);

void gemm_panel(int64_t M, int64_t K, const float* a, int64_t lda, const float* panel,
                int64_t ncols, float* c, int64_t ldc, bool accumulate, const float* bias) {
  if (M <= 0 || ncols <= 0) return;
  switch (gemm_packed_isa()) {
    case 2:
      if (ncols <= 16)
        panel_avx512_tail<false>(M, K, a, lda, panel, ncols, c, ldc, accumulate, bias, NR);
      else
        panel_avx512<false>(M, K, a, lda, panel, ncols, c, ldc, accumulate, bias, NR);
      break;
    case 1:
      panel_avx2<false>(M, K, a, lda, panel, ncols, c, ldc, accumulate, bias, NR);
      break;
    default:
      panel_portable<float>(M, K, a, lda, panel, ncols, c, ldc, accumulate, bias);
  }
}

void gemm_panel_avx512(bool trans_a, int64_t M, int64_t K, const float* a, int64_t lda,
                       const float* panel, int64_t ldp, int64_t ncols, float* c, int64_t ldc,
                       bool accumulate, const float* bias) {
  if (M <= 0 || ncols <= 0) return;
  if (ncols <= 16) {
    if (trans_a)
      panel_avx512_tail<true>(M, K, a, lda, panel, ncols, c, ldc, accumulate, bias, ldp);
    else
      panel_avx512_tail<false>(M, K, a, lda, panel, ncols, c, ldc, accumulate, bias, ldp);
  } else if (trans_a) {
    panel_avx512<true>(M, K, a, lda, panel, ncols, c, ldc, accumulate, bias, ldp);
  } else {
    panel_avx512<false>(M, K, a, lda, panel, ncols, c, ldc, accumulate, bias, ldp);
  }
}

void gemm_panel_avx2(bool trans_a, int64_t M, int64_t K, const float* a, int64_t lda,
                     const float* panel, int64_t ldp, int64_t ncols, float* c, int64_t ldc,
                     bool accumulate, const float* bias) {
  if (M <= 0 || ncols <= 0) return;
  if (ncols <= kNarrowAvx2)
    return narrow_panel_avx2(trans_a, M, K, a, lda, panel, ldp, ncols, c, ldc, accumulate, bias);
  if (trans_a)
    panel_avx2<true>(M, K, a, lda, panel, ncols, c, ldc, accumulate, bias, ldp);
  else
    panel_avx2<false>(M, K, a, lda, panel, ncols, c, ldc, accumulate, bias, ldp);
}

void gemm_panel_avx2_grouped(int64_t M, int64_t K, const float* a, int64_t group_stride,
                             const float* panel, int64_t ldp, int64_t ncols, float* c,
                             int64_t ldc, bool accumulate, const float* bias) {
  if (M <= 0 || ncols <= 0) return;
  tiles_avx2(M, K, [&](int64_t m0, int64_t, const float** ar) {
    const float* g = a + (m0 / 6) * group_stride;
    for (int i = 0; i < 6; ++i) ar[i] = g + i;
    return int64_t(6);
  }, panel, ncols, c, ldc, accumulate, bias, ldp, false);
}

// Double: the portable loop, compiled for AVX-512 / AVX2 / baseline (picked at load time).
__attribute__((noinline, target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
void panel_double(int64_t M, int64_t K, const double* a, int64_t lda, const double* p,
                  int64_t ncols, double* c, int64_t ldc, bool accumulate) {
  panel_portable<double>(M, K, a, lda, p, ncols, c, ldc, accumulate);
}

void gemm_panel(int64_t M, int64_t K, const double* a, int64_t lda, const double* panel,
                int64_t ncols, double* c, int64_t ldc, bool accumulate) {
  if (M <= 0 || ncols <= 0) return;
  panel_double(M, K, a, lda, panel, ncols, c, ldc, accumulate);
}

namespace {
template <typename T>
void full(int64_t M, int64_t N, int64_t K, const T* a, const T* b, T* c, bool accumulate) {
  std::vector<T> panel(size_t(std::max<int64_t>(K, 1) * NR));
  for (int64_t n0 = 0; n0 < N; n0 += NR) {
    const int64_t nc = std::min(NR, N - n0);
    pack_panel<T>(K, nc, b + n0, N, 1, panel.data());
    gemm_panel(M, K, a, K, panel.data(), nc, c + n0, N, accumulate);
  }
}
}  // namespace

void gemm_packed_full(bool is_double, int64_t M, int64_t N, int64_t K, const void* a,
                      const void* b, void* c, bool accumulate) {
  if (is_double)
    full<double>(M, N, K, static_cast<const double*>(a), static_cast<const double*>(b),
                 static_cast<double*>(c), accumulate);
  else
    full<float>(M, N, K, static_cast<const float*>(a), static_cast<const float*>(b),
                static_cast<float*>(c), accumulate);
}

}  // namespace ranvier::cpu
