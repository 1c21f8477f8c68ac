// The OpenBLAS entry points used by the CPU kernels (kernels/cpu/blas.cpp); see
// Note [One thread pool] there.
#pragma once
#include <cstdint>

namespace ranvier::cpu {

// Row-major GEMM through OpenBLAS: C = alpha * op(A) @ op(B) + beta * C (float or double).
void blas_gemm(bool is_double, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
               double alpha, const void* a, int64_t lda, const void* b, int64_t ldb, double beta,
               void* c, int64_t ldc);

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
