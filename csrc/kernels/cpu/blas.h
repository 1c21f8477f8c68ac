// The GEMM entry points of the CPU kernels: the panel GEMM where it applies, else OpenBLAS in
// fixed blocks (kernels/cpu/blas.cpp, Note [Thread-invariant BLAS]).
#pragma once
#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "core/parallel.h"
#include "kernels/cpu/gemm_panels.h"

namespace ranvier::cpu {

// C = alpha * op(A) @ op(B) + beta * C through OpenBLAS with results that do not depend on
// the thread count (Note [Thread-invariant BLAS]): C is cut along its longer side into fixed
// blocks of at least kFixedGemmRows rows or columns (at most kFixedGemmBlocks; the cut depends
// on m and n alone), each one single-threaded OpenBLAS call, the blocks spread over our threads
// (or run in turn inside a parallel region).
constexpr int64_t kFixedGemmRows = 64;
constexpr int64_t kFixedGemmBlocks = 4;
void gemm_fixed_blocks_blas(bool is_double, bool ta, bool tb, int64_t m, int64_t n, int64_t k,
                            double alpha, const void* a, int64_t lda, const void* b, int64_t ldb,
                            double beta, void* c, int64_t ldc);

// C = op(A) @ op(B) + beta * C for T = float or double, row-major, also for empty shapes (k == 0
// with beta 0 zeroes C, any other beta leaves C as it is: callers pass beta 0 or 1). float goes
// to the panel GEMM where it applies (on all threads, or on this one inside a parallel region),
// the rest to gemm_fixed_blocks_blas: either way the bits do not depend on the thread count.
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
  gemm_fixed_blocks_blas(std::is_same_v<T, double>, ta, tb, m, n, k, 1.0, a, lda, b, ldb, beta,
                         c, ldc);
}

}  // namespace ranvier::cpu
