// Float32 products of a few rows against a matrix read row by row (kernels/cpu/gemv.cpp):
// the shape of nn.Linear at batch 1-4, where OpenBLAS's GEMM machinery costs more than the
// arithmetic. Used by the matmul kernel for those shapes.
#pragma once
#include <cstdint>

namespace ranvier::cpu {

// C[i, j] = alpha * sum_p A[i, p] * W[j, p] + beta * C0[i, j] for i < m <= 4, j < n; A rows and
// W rows contiguous (strides lda, ldw), C rows contiguous (stride ldc). C0 is C's old contents,
// or, when c_row is not null, c_row[j * c_row_stride] for every row (a bias). beta == 0
// ignores C0. Each output is one dot product in a fixed order, so the result does not depend
// on the thread count.
constexpr int64_t kGemvMaxRows = 4;
void gemv_rows_f32(int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                   const float* w, int64_t ldw, float beta, const float* c_row,
                   int64_t c_row_stride, float* c, int64_t ldc);

}  // namespace ranvier::cpu
