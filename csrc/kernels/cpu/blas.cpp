// OpenBLAS glue. Note [One thread pool]: OpenBLAS runs its parallel jobs on our OpenMP pool
// through its threads callback (alternating two pools cost 1.6x), and set_num_threads sets its
// thread count too. OpenBLAS's level-3 jobs wait on each other, so the callback must run all
// numjobs jobs concurrently: it asks for exactly numjobs threads. That is only guaranteed
// outside our own parallel regions; inside one (the small-matrix batch loop of
// kernels/cpu/matmul.cpp) GEMMs run with one OpenBLAS thread (BlasSingleThreadGuard, set
// before the region opens; this build of OpenBLAS has no per-thread setting).
#include <cblas.h>

#include <atomic>
#include <climits>

#include "core/error.h"
#include "kernels/cpu/blas.h"
#include "core/parallel.h"

namespace ranvier {

namespace {
std::atomic<int64_t> g_parallel_calls{0};

void openblas_omp_callback(int sync, openblas_dojob_callback dojob, int numjobs,
                           size_t jobdata_elsize, void* jobdata, int dojob_data) {
  (void)sync;
  char* data = static_cast<char*>(jobdata);
  if (numjobs <= 1) {
    for (int i = 0; i < numjobs; ++i) dojob(i, data + size_t(i) * jobdata_elsize, dojob_data);
    return;
  }
  g_parallel_calls.fetch_add(1, std::memory_order_relaxed);
#pragma omp parallel for num_threads(numjobs) schedule(static, 1)
  for (int i = 0; i < numjobs; ++i) dojob(i, data + size_t(i) * jobdata_elsize, dojob_data);
}
}  // namespace

void set_blas_num_threads(int n) { scipy_openblas_set_num_threads(n); }

void init_blas() {
  scipy_openblas_set_threads_callback_function(&openblas_omp_callback);
  scipy_openblas_set_num_threads(get_num_threads());
}

namespace cpu {

int64_t blas_parallel_calls() { return g_parallel_calls.load(std::memory_order_relaxed); }

// Row-major GEMM through OpenBLAS: C = alpha * op(A) @ op(B) + beta * C (float or double).
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

void gemm_fixed_blocks_blas(bool is_double, bool ta, bool tb, int64_t m, int64_t n, int64_t k,
                            const void* a, int64_t lda, const void* b, int64_t ldb, double beta,
                            void* c, int64_t ldc) {
  const size_t elem = is_double ? sizeof(double) : sizeof(float);
  // at most kFixedGemmBlocks blocks (each call packs all of op(B) again), of whole 16-row
  // tiles, at least kFixedGemmRows rows: a function of m alone
  int64_t per = std::max(kFixedGemmRows, (m + kFixedGemmBlocks - 1) / kFixedGemmBlocks);
  per = (per + 15) / 16 * 16;
  const int64_t blocks = (m + per - 1) / per;
  BlasSingleThreadGuard one;
  parallel_for(0, blocks, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t blk = b0; blk < b1; ++blk) {
      const int64_t r0 = blk * per, rows = std::min(per, m - r0);
      // row r0 of op(A): A's row r0, or its column r0 when transposed
      const char* ar = static_cast<const char*>(a) + size_t(ta ? r0 : r0 * lda) * elem;
      char* cr = static_cast<char*>(c) + size_t(r0 * ldc) * elem;
      blas_gemm(is_double, ta, tb, rows, n, k, 1.0, ar, lda, b, ldb, beta, cr, ldc);
    }
  });
}

BlasSingleThreadGuard::BlasSingleThreadGuard() { scipy_openblas_set_num_threads(1); }
BlasSingleThreadGuard::~BlasSingleThreadGuard() { scipy_openblas_set_num_threads(get_num_threads()); }

}  // namespace cpu
}  // namespace ranvier
