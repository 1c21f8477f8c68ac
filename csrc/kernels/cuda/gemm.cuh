// Index math of the CUDA GEMM (kernels/cuda/gemm.cu), plain host/device functions so that
// csrc/cuda/test/gemm_math_test.cu can check them on the host.
//
// cuBLAS is column-major; our matrices are row-major-ish with arbitrary element strides. The
// product C = A @ B with C row-major (row stride n) is, read column-major, C^T = B^T @ A^T, so
// cuBLAS computes (n x m) = (n x k) @ (k x m) from B then A. An operand X (rows x cols, strides
// rs, cs) is X^T for cuBLAS without a copy when cs == 1 (op N, leading dim rs) or rs == 1 (op T,
// leading dim cs); otherwise it is gathered into a packed row-major copy first.
#pragma once
#include <cstdint>

#include "core/shape.h"

namespace ranvier::cuda {

struct GemmOperand {
  bool ok = false;     // cuBLAS can read it in place
  bool trans = false;  // op T (column-major storage of X) instead of op N
  int64_t ld = 0;
};

// How cuBLAS reads X (rows x cols, element strides rs, cs) as X^T (see the file comment).
__host__ __device__ inline GemmOperand gemm_operand(int64_t rows, int64_t cols, int64_t rs,
                                                    int64_t cs) {
  const int64_t r1 = rows > 1 ? rows : 1, c1 = cols > 1 ? cols : 1;
  GemmOperand o;
  if ((cols == 1 || cs == 1) && (rows == 1 || rs >= c1)) {
    o.ok = true;
    o.trans = false;
    o.ld = rows == 1 ? c1 : rs;
  } else if ((rows == 1 || rs == 1) && (cols == 1 || cs >= r1)) {
    o.ok = true;
    o.trans = true;
    o.ld = cols == 1 ? r1 : cs;
  }
  return o;
}

// The batch dims of one operand, flattened: batch index bi (row-major over sizes) sits at
// element offset sum_d x_d * strides[d].
struct BatchDims {
  int n = 0;
  int64_t sizes[kMaxDims] = {};
  int64_t strides[kMaxDims] = {};
};

__host__ __device__ inline int64_t batch_offset(const BatchDims& b, int64_t bi) {
  int64_t off = 0;
  for (int d = b.n - 1; d >= 0; --d) {
    const int64_t x = bi % b.sizes[d];
    bi /= b.sizes[d];
    off += x * b.strides[d];
  }
  return off;
}

// Whether the offset of batch index bi is bi * stride for every bi (one stride for cuBLAS's
// strided batch); sets *stride. All-zero strides (a broadcast operand) give stride 0.
__host__ __device__ inline bool single_batch_stride(const BatchDims& b, int64_t* stride) {
  bool all_zero = true;
  for (int d = 0; d < b.n; ++d)
    if (b.sizes[d] != 1 && b.strides[d] != 0) all_zero = false;
  if (all_zero) {
    *stride = 0;
    return true;
  }
  // innermost dim of size > 1 gives the stride; every outer dim must be its multiple
  int64_t s = -1, span = 1;
  for (int d = b.n - 1; d >= 0; --d) {
    if (b.sizes[d] == 1) continue;
    if (s < 0) s = b.strides[d];
    if (b.strides[d] != s * span) return false;
    span *= b.sizes[d];
  }
  *stride = s < 0 ? 0 : s;
  return true;
}

// Element offset of entry e of the packed copy [batch, rows, cols] of an operand.
__host__ __device__ inline int64_t gather_offset(const BatchDims& b, int64_t rows, int64_t cols,
                                                 int64_t rs, int64_t cs, int64_t e) {
  const int64_t mat = rows * cols;
  const int64_t bi = e / mat, r = (e % mat) / cols, c = e % cols;
  return batch_offset(b, bi) + r * rs + c * cs;
}

}  // namespace ranvier::cuda
