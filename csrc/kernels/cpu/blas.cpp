// OpenBLAS glue. Note [Thread-invariant BLAS]: OpenBLAS runs single-threaded (init_blas sets
// its thread count to 1 for good), and gemm_fixed_blocks_blas spreads fixed blocks of C over our
// own OpenMP threads, one OpenBLAS call a block. OpenBLAS's own threaded split changed which of
// its kernels, and so which rounding, an element got (a 1024^3 product differed between one,
// two and three threads on Zen 3); fixed blocks cut by the shape alone do not.
#include <cblas.h>

#include <climits>

#include "core/error.h"
#include "kernels/cpu/blas.h"
#include "core/parallel.h"

namespace ranvier {

void init_blas() { scipy_openblas_set_num_threads(1); }

namespace cpu {

namespace {
// One row-major OpenBLAS call: C = alpha * op(A) @ op(B) + beta * C (float or double).
void blas_gemm(bool is_double, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
               double alpha, const void* a, int64_t lda, const void* b, int64_t ldb, double beta,
               void* c, int64_t ldc) {
  RV_CHECK(m <= INT_MAX && n <= INT_MAX && k <= INT_MAX && lda <= INT_MAX && ldb <= INT_MAX &&
               ldc <= INT_MAX,
           "matmul: matrix dimensions above 2^31-1 are not supported by the BLAS backend (got ",
           m, "x", k, " and ", k, "x", n, ")");
  const CBLAS_TRANSPOSE ta = trans_a ? CblasTrans : CblasNoTrans;
  const CBLAS_TRANSPOSE tb = trans_b ? CblasTrans : CblasNoTrans;
  if (is_double) {
    scipy_cblas_dgemm(CblasRowMajor, ta, tb, int(m), int(n), int(k), alpha,
                      static_cast<const double*>(a), int(lda), static_cast<const double*>(b),
                      int(ldb), beta, static_cast<double*>(c), int(ldc));
  } else {
    scipy_cblas_sgemm(CblasRowMajor, ta, tb, int(m), int(n), int(k), float(alpha),
                      static_cast<const float*>(a), int(lda), static_cast<const float*>(b),
                      int(ldb), float(beta), static_cast<float*>(c), int(ldc));
  }
}

}  // namespace

void gemm_fixed_blocks_blas(bool is_double, bool ta, bool tb, int64_t m, int64_t n, int64_t k,
                            double alpha, const void* a, int64_t lda, const void* b, int64_t ldb,
                            double beta, void* c, int64_t ldc) {
  const size_t elem = is_double ? sizeof(double) : sizeof(float);
  // C is cut along its longer side (each call packs all of the other operand again) into at
  // most kFixedGemmBlocks blocks of whole 16-row or 16-column tiles, at least kFixedGemmRows
  // long: a function of m and n alone
  const bool by_rows = m >= n;
  const int64_t len = by_rows ? m : n;
  int64_t per = std::max(kFixedGemmRows, (len + kFixedGemmBlocks - 1) / kFixedGemmBlocks);
  per = (per + 15) / 16 * 16;
  const int64_t blocks = (len + per - 1) / per;
  const auto run = [&](int64_t b0, int64_t b1) {
    for (int64_t blk = b0; blk < b1; ++blk) {
      const int64_t i0 = blk * per, cnt = std::min(per, len - i0);
      const char* ap = static_cast<const char*>(a);
      const char* bp = static_cast<const char*>(b);
      char* cp = static_cast<char*>(c);
      if (by_rows) {  // row i0 of op(A): A's row i0, or its column i0 when transposed
        ap += size_t(ta ? i0 : i0 * lda) * elem;
        cp += size_t(i0 * ldc) * elem;
        blas_gemm(is_double, ta, tb, cnt, n, k, alpha, ap, lda, b, ldb, beta, cp, ldc);
      } else {  // column i0 of op(B): B's column i0, or its row i0 when transposed
        bp += size_t(tb ? i0 * ldb : i0) * elem;
        cp += size_t(i0) * elem;
        blas_gemm(is_double, ta, tb, m, cnt, k, alpha, a, lda, bp, ldb, beta, cp, ldc);
      }
    }
  };
  parallel_for(0, blocks, 1, run);  // in turn inside a parallel region
}

}  // namespace cpu
}  // namespace ranvier
