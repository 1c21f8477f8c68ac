// Few-row float32 GEMM against row-major weights (gemv.h). Memory bound: every weight row is
// read once for all m rows. The outputs j are cut into fixed blocks of kBlock spread over the
// threads; with AVX-512, four weight rows are read at a time against the m input rows
// (16 accumulators at most), the last partial vector of k under a mask. With AVX2 + FMA the
// same walk runs 8 floats wide; there are only 16 vector registers, so the rows read at a
// time shrink as m grows (m x rows accumulators, plus the weight vectors and an input one).
// The level comes from cpu_capability() (Note [CPU capability]).
#include "kernels/cpu/gemv.h"
#include "core/cpu_capability.h"
#include "kernels/cpu/lane_mask_avx2.h"

#include <immintrin.h>

#include <algorithm>

#include "core/parallel.h"

namespace ranvier::cpu {

namespace {

constexpr int64_t kBlock = 16;  // outputs per work item

// dots[i * cols + (j - j0)] = sum_p A[i, p] * W[j, p] for j in [j0, j1): portable version.
template <int M>
void dots_generic(int64_t j0, int64_t j1, int64_t k, const float* a, int64_t lda,
                  const float* w, int64_t ldw, float* dots) {
  for (int64_t j = j0; j < j1; ++j) {
    const float* wj = w + j * ldw;
    for (int i = 0; i < M; ++i) {
      const float* ai = a + i * lda;
      float s = 0.f;
#pragma omp simd reduction(+ : s)
      for (int64_t p = 0; p < k; ++p) s += ai[p] * wj[p];
      dots[i * kBlock + (j - j0)] = s;
    }
  }
}

// The 16 lanes summed in a fixed order (GCC 12's _mm512_reduce_add_ps trips -Wuninitialized).
__attribute__((target("avx512f"))) inline float lane_sum(__m512 v) {
  alignas(64) float t[16];
  _mm512_store_ps(t, v);
  for (int w = 8; w >= 1; w /= 2)
    for (int l = 0; l < w; ++l) t[l] += t[l + w];
  return t[0];
}

template <int M, int R>
__attribute__((target("avx512f"))) inline void rows_avx512(int64_t j, int64_t j0, int64_t k,
                                                           const float* a, int64_t lda,
                                                           const float* w, int64_t ldw,
                                                           float* dots) {
  __m512 acc[M][R];
  for (int i = 0; i < M; ++i)
    for (int r = 0; r < R; ++r) acc[i][r] = _mm512_setzero_ps();
  int64_t p = 0;
  for (; p + 16 <= k; p += 16) {
    __m512 wv[R];
    for (int r = 0; r < R; ++r) wv[r] = _mm512_loadu_ps(w + (j + r) * ldw + p);
    for (int i = 0; i < M; ++i) {
      __m512 x = _mm512_loadu_ps(a + i * lda + p);
      for (int r = 0; r < R; ++r) acc[i][r] = _mm512_fmadd_ps(x, wv[r], acc[i][r]);
    }
  }
  if (p < k) {
    __mmask16 mask = __mmask16((1u << (k - p)) - 1u);
    __m512 wv[R];
    for (int r = 0; r < R; ++r) wv[r] = _mm512_maskz_loadu_ps(mask, w + (j + r) * ldw + p);
    for (int i = 0; i < M; ++i) {
      __m512 x = _mm512_maskz_loadu_ps(mask, a + i * lda + p);
      for (int r = 0; r < R; ++r) acc[i][r] = _mm512_fmadd_ps(x, wv[r], acc[i][r]);
    }
  }
  for (int i = 0; i < M; ++i)
    for (int r = 0; r < R; ++r) dots[i * kBlock + (j + r - j0)] = lane_sum(acc[i][r]);
}

template <int M>
__attribute__((target("avx512f"))) void dots_avx512(int64_t j0, int64_t j1, int64_t k,
                                                    const float* a, int64_t lda,
                                                    const float* w, int64_t ldw, float* dots) {
  int64_t j = j0;
  for (; j + 4 <= j1; j += 4) rows_avx512<M, 4>(j, j0, k, a, lda, w, ldw, dots);
  for (; j < j1; ++j) rows_avx512<M, 1>(j, j0, k, a, lda, w, ldw, dots);
}

// The AVX2 copy. The 8 lanes are summed in a fixed order (halves, then quarters, then pairs),
// so each output is the same for any thread count.
__attribute__((target("avx2,fma"))) inline float lane_sum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}

template <int M, int R>
__attribute__((target("avx2,fma"))) inline void rows_avx2(int64_t j, int64_t j0, int64_t k,
                                                          const float* a, int64_t lda,
                                                          const float* w, int64_t ldw,
                                                          float* dots) {
  __m256 acc[M][R];
  for (int i = 0; i < M; ++i)
    for (int r = 0; r < R; ++r) acc[i][r] = _mm256_setzero_ps();
  int64_t p = 0;
  for (; p + 8 <= k; p += 8) {
    __m256 wv[R];
    for (int r = 0; r < R; ++r) wv[r] = _mm256_loadu_ps(w + (j + r) * ldw + p);
    for (int i = 0; i < M; ++i) {
      const __m256 x = _mm256_loadu_ps(a + i * lda + p);
      for (int r = 0; r < R; ++r) acc[i][r] = _mm256_fmadd_ps(x, wv[r], acc[i][r]);
    }
  }
  if (p < k) {
    const __m256i mask = lane_mask8(k - p);  // the k % 8 tail
    __m256 wv[R];
    for (int r = 0; r < R; ++r) wv[r] = _mm256_maskload_ps(w + (j + r) * ldw + p, mask);
    for (int i = 0; i < M; ++i) {
      const __m256 x = _mm256_maskload_ps(a + i * lda + p, mask);
      for (int r = 0; r < R; ++r) acc[i][r] = _mm256_fmadd_ps(x, wv[r], acc[i][r]);
    }
  }
  for (int i = 0; i < M; ++i)
    for (int r = 0; r < R; ++r) dots[i * kBlock + (j + r - j0)] = lane_sum8(acc[i][r]);
}

template <int M>
__attribute__((target("avx2,fma"))) void dots_avx2(int64_t j0, int64_t j1, int64_t k,
                                                  const float* a, int64_t lda, const float* w,
                                                  int64_t ldw, float* dots) {
  // M x R accumulators + R weight vectors + 1 input vector within the 16 registers
  constexpr int R = M <= 2 ? 4 : 3;
  int64_t j = j0;
  for (; j + R <= j1; j += R) rows_avx2<M, R>(j, j0, k, a, lda, w, ldw, dots);
  for (; j < j1; ++j) rows_avx2<M, 1>(j, j0, k, a, lda, w, ldw, dots);
}

using DotsFn = void (*)(int64_t, int64_t, int64_t, const float*, int64_t, const float*, int64_t,
                        float*);

template <int M>
DotsFn pick() {
  static const DotsFn fn = cpu_uses_avx512() ? &dots_avx512<M>
                           : cpu_uses_avx2()  ? &dots_avx2<M>
                                              : &dots_generic<M>;
  return fn;
}

DotsFn dots_for(int64_t m) {
  switch (m) {
    case 1: return pick<1>();
    case 2: return pick<2>();
    case 3: return pick<3>();
    default: return pick<4>();
  }
}

}  // namespace

void gemv_rows_f32(int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                   const float* w, int64_t ldw, float beta, const float* c_row,
                   int64_t c_row_stride, float* c, int64_t ldc) {
  DotsFn dots_fn = dots_for(m);
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  const int64_t grain =
      std::max<int64_t>(1, (int64_t(1) << 16) / (kBlock * m * std::max<int64_t>(k, 1)));
  parallel_for(0, blocks, grain, [&](int64_t b0, int64_t b1) {
    float dots[kGemvMaxRows * kBlock];
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t j0 = b * kBlock, j1 = std::min(n, j0 + kBlock);
      dots_fn(j0, j1, k, a, lda, w, ldw, dots);
      for (int64_t i = 0; i < m; ++i) {
        float* ci = c + i * ldc;
        for (int64_t j = j0; j < j1; ++j) {
          float v = alpha * dots[i * kBlock + (j - j0)];
          const float old = c_row != nullptr ? c_row[j * c_row_stride] : ci[j];
          ci[j] = beta == 0.f ? v : v + beta * old;
        }
      }
    }
  });
}

}  // namespace ranvier::cpu
