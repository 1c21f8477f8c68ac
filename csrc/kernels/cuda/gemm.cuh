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
#include "ops/matmul.h"

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

// One cublasGemmStridedBatchedEx call (column-major): for i < batch,
// C_i = alpha op(A_i) op(B_i) + beta C_i with C_i m x n (leading dim ldc), op(A_i) m x k,
// op(B_i) k x n; A_i starts sa elements after A_{i-1}, and so on.
struct CublasGemm {
  bool ta = false, tb = false;
  int64_t m = 0, n = 0, k = 0;
  int64_t lda = 0, sa = 0, ldb = 0, sb = 0, ldc = 0, sc = 0, batch = 0;
};

// Row-major C = op(A) op(B) (ta / tb: the stored row-major matrix is transposed) as the
// column-major C^T = op(B)^T op(A)^T: cuBLAS's A is our B, with the same flags.
__host__ __device__ inline CublasGemm row_major_call(bool ta, bool tb, int64_t m, int64_t n,
                                                     int64_t k, int64_t lda, int64_t sa,
                                                     int64_t ldb, int64_t sb, int64_t ldc,
                                                     int64_t sc, int64_t batch) {
  CublasGemm g;
  g.ta = tb;
  g.tb = ta;
  g.m = n;
  g.n = m;
  g.k = k;
  g.lda = ldb;
  g.sa = sb;
  g.ldb = lda;
  g.sb = sa;
  g.ldc = ldc;
  g.sc = sc;
  g.batch = batch;
  return g;
}

// How matmul's GemmSpec runs: each operand read in place (a layout cuBLAS takes and one batch
// stride) or first gathered into a packed [batch, rows, cols] copy; then one call in which
// cuBLAS's A is (the copy of) B and cuBLAS's B is (the copy of) A.
struct GemmPlan {
  bool pack_a = false, pack_b = false;
  CublasGemm call;
};

__host__ __device__ inline BatchDims operand_batch(const GemmSpec& s, const int64_t* strides) {
  BatchDims b;
  b.n = s.nbatch;
  for (int d = 0; d < s.nbatch; ++d) {
    b.sizes[d] = s.batch_sizes[d];
    b.strides[d] = strides[d];
  }
  return b;
}

__host__ __device__ inline GemmPlan plan_gemm(const GemmSpec& s) {
  GemmPlan p;
  GemmOperand la = gemm_operand(s.m, s.k, s.a_rs, s.a_cs);
  GemmOperand lb = gemm_operand(s.k, s.n, s.b_rs, s.b_cs);
  int64_t sa = 0, sb = 0;
  p.pack_a = !(la.ok && single_batch_stride(operand_batch(s, s.a_bs), &sa));
  p.pack_b = !(lb.ok && single_batch_stride(operand_batch(s, s.b_bs), &sb));
  if (p.pack_a) {
    la = gemm_operand(s.m, s.k, s.k, 1);
    sa = s.m * s.k;
  }
  if (p.pack_b) {
    lb = gemm_operand(s.k, s.n, s.n, 1);
    sb = s.k * s.n;
  }
  p.call = row_major_call(la.trans, lb.trans, s.m, s.n, s.k, la.ld, sa, lb.ld, sb, s.n,
                          s.m * s.n, s.batch_numel);
  return p;
}

}  // namespace ranvier::cuda
