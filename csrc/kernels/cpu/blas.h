// The OpenBLAS entry points used by the CPU kernels (kernels/cpu/blas.cpp); see
// Note [One thread pool] there.
#pragma once
#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "core/parallel.h"
#include "kernels/cpu/gemm_panels.h"

namespace ranvier::cpu {

// Row-major GEMM through OpenBLAS: C = alpha * op(A) @ op(B) + beta * C (float or double).
void blas_gemm(bool is_double, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
               double alpha, const void* a, int64_t lda, const void* b, int64_t ldb, double beta,
               void* c, int64_t ldc);

// C = op(A) @ op(B) + beta * C for T = float or double, row-major, also for empty shapes (k == 0
// with beta 0 zeroes C, any other beta leaves C as it is: callers pass beta 0 or 1). float goes
// to the panel GEMM where it applies (on all threads, or on this one inside a parallel region).
template <typename T>
void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, const T* b,
          int64_t ldb, double beta, T* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0) {
    if (beta == 0.0)
      for (int64_t i = 0; i < m; ++i) std::fill(c + i * ldc, c + i * ldc + n, T(0));
    return;
  }
  if constexpr (std::is_same_v<T, float>) {  // Note [Panel GEMM]
    if ((beta == 0.0 || beta == 1.0) &&
        gemm_panels_blas_f32(ta, tb, m, n, k, a, lda, b, ldb, beta == 1.0, c, ldc,
                             !in_parallel_region()))
      return;
  }
  blas_gemm(std::is_same_v<T, double>, ta, tb, m, n, k, 1.0, a, lda, b, ldb, beta, c, ldc);
}

// C = op(A) @ op(B) (+ C with beta 1; beta is 0 or 1) with results that do not depend on the
// thread count: OpenBLAS's multi-threaded split changes which of its kernels (and so which
// rounding) an element gets on some CPUs, so the rows of C are cut into fixed blocks of
// at least kFixedGemmRows (at most kFixedGemmBlocks blocks; the cut depends on m alone), each
// one single-threaded OpenBLAS call, the blocks spread over our threads. Call from outside
// parallel regions.
constexpr int64_t kFixedGemmRows = 64;
constexpr int64_t kFixedGemmBlocks = 4;
void gemm_fixed_blocks_blas(bool is_double, bool ta, bool tb, int64_t m, int64_t n, int64_t k,
                            const void* a, int64_t lda, const void* b, int64_t ldb, double beta,
                            void* c, int64_t ldc);
// The same where the panel path declines, for float (the panel path's results are
// thread-invariant already) and double.
template <typename T>
void gemm_thread_invariant(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const T* a,
                           int64_t lda, const T* b, int64_t ldb, T* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0) {
    for (int64_t i = 0; i < m; ++i) std::fill(c + i * ldc, c + i * ldc + n, T(0));
    return;
  }
  if constexpr (std::is_same_v<T, float>) {  // Note [Panel GEMM]: thread-invariant already
    if (gemm_panels_blas_f32(ta, tb, m, n, k, a, lda, b, ldb, false, c, ldc, true)) return;
  }
  gemm_fixed_blocks_blas(std::is_same_v<T, double>, ta, tb, m, n, k, a, lda, b, ldb, 0.0, c,
                         ldc);
}

// OpenBLAS runs with one thread while the guard lives (set and restored globally, from
// outside any parallel region): for loops that call GEMM from several of our threads.
// How many times OpenBLAS has run a multi-threaded job on our OpenMP pool (for tests).
int64_t blas_parallel_calls();

class BlasSingleThreadGuard {
 public:
  BlasSingleThreadGuard();
  ~BlasSingleThreadGuard();
  BlasSingleThreadGuard(const BlasSingleThreadGuard&) = delete;
  BlasSingleThreadGuard& operator=(const BlasSingleThreadGuard&) = delete;
};

}  // namespace ranvier::cpu
