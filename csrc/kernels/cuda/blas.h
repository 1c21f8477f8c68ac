// Row-major GEMM on cuBLAS for the CUDA kernels that are built from matrix products (conv,
// attention, rnn); implemented in kernels/cuda/gemm.cu.
#pragma once
#include <cstdint>

#include "core/dtype.h"

namespace ranvier::cuda {

// For i in [0, batch): C_i = alpha * op(A_i) @ op(B_i) + beta * C_i, every matrix row-major
// with the given row stride (ld) and batch stride (s, may be 0); op(X) = X^T when t is set.
// C_i is m x n, op(A_i) m x k, op(B_i) k x n. beta = 0 never reads C. float32 follows the
// float32 matmul precision setting like matmul does; float64 / float16 / bfloat16 as gemm.cu.
void gemm_rm(DType dt, bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha,
             const void* a, int64_t lda, int64_t sa, const void* b, int64_t ldb, int64_t sb,
             double beta, void* c, int64_t ldc, int64_t sc, int64_t batch);

}  // namespace ranvier::cuda
