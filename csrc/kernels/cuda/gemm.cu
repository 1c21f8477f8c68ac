// CUDA GEMM kernel of the matmul family (GemmSpec, ops/matmul.h) on cuBLAS.
// Per call: each operand is read in place when cuBLAS can (a unit stride on one side: op N or
// op T, see gemm.cuh) and its batch offsets are one stride (0 for a broadcast operand);
// otherwise the operand is gathered into a packed [batch, rows, cols] copy by a small kernel.
// Then one cublasGemmStridedBatchedEx_64 call (chunks of at most INT_MAX matrices) computes
// C^T = B^T A^T column-major, which is C row-major. float32 computes in float32, or TF32 /
// bfloat16 tensor cores when the float32 matmul precision (core/matmul_precision.h) is "high" /
// "medium"; float64 in float64; float16 and bfloat16 with float32 accumulation. k = 0 scales C
// by beta (zeros when beta is 0). Integer and bool dtypes raise NotImplementedError.
#include <climits>
#include <memory>

#include "core/matmul_precision.h"
#include "cuda/context.h"
#include "cuda/cuda_check.h"
#include "cuda/dtypes.cuh"
#include "cuda/loop.cuh"
#include "cuda/register.h"
#include "kernels/cuda/blas.h"
#include "kernels/cuda/gemm.cuh"
#include "ops/matmul.h"

namespace ranvier::cuda {

namespace {

// dst[e] = src[gather_offset(e)] for the packed copy of one operand (raw element bits).
template <typename U>
__global__ void gather_kernel(BatchDims b, int64_t rows, int64_t cols, int64_t rs, int64_t cs,
                              const U* src, U* dst, int64_t total) {
  RV_GRID_STRIDE(e, total) { dst[e] = src[gather_offset(b, rows, cols, rs, cs, e)]; }
}

// C_i[r, j] *= beta for a batch of row-major matrices (rows x cols, row stride ld, batch
// stride sc), or 0 when beta is 0 (never reads C then).
template <typename T>
__global__ void scale_kernel(T* c, int64_t rows, int64_t cols, int64_t ld, int64_t sc,
                             int64_t total, double beta) {
  RV_GRID_STRIDE(e, total) {
    const int64_t mat = rows * cols;
    T* p = c + (e / mat) * sc + ((e % mat) / cols) * ld + e % cols;
    *p = beta == 0.0 ? convert<T, double>(0.0) : convert<T, double>(convert<double, T>(*p) * beta);
  }
}

void scale_c(DType dt, void* c, int64_t rows, int64_t cols, int64_t ld, int64_t sc,
             int64_t batch, double beta) {
  const int64_t total = batch * rows * cols;
  if (total == 0 || beta == 1.0) return;
  dispatch_dtype(dt, "matmul", [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double> || kReduced<T>) {
      scale_kernel<T><<<grid_for(total), kThreads, 0, current_stream()>>>(
          static_cast<T*>(c), rows, cols, ld, sc, total, beta);
      RV_CUDA_CHECK(cudaGetLastError());
    }
  });
}

void gather(size_t elem, const BatchDims& b, int64_t rows, int64_t cols, int64_t rs, int64_t cs,
            const void* src, void* dst, int64_t total) {
  const unsigned grid = grid_for(total);
  cudaStream_t st = current_stream();
  if (elem == 2) {
    gather_kernel<<<grid, kThreads, 0, st>>>(b, rows, cols, rs, cs,
                                             static_cast<const uint16_t*>(src),
                                             static_cast<uint16_t*>(dst), total);
  } else if (elem == 4) {
    gather_kernel<<<grid, kThreads, 0, st>>>(b, rows, cols, rs, cs,
                                             static_cast<const uint32_t*>(src),
                                             static_cast<uint32_t*>(dst), total);
  } else {
    gather_kernel<<<grid, kThreads, 0, st>>>(b, rows, cols, rs, cs,
                                             static_cast<const uint64_t*>(src),
                                             static_cast<uint64_t*>(dst), total);
  }
  RV_CUDA_CHECK(cudaGetLastError());
}

struct TypeInfo {
  cudaDataType data;
  cublasComputeType_t compute;
  size_t elem;
  bool dbl_scalars;
};

TypeInfo type_info(DType t) {
  switch (t) {
    case DType::Float32: {
      cublasComputeType_t c = CUBLAS_COMPUTE_32F;
      MatmulPrecision p = float32_matmul_precision();
      if (p == MatmulPrecision::High) c = CUBLAS_COMPUTE_32F_FAST_TF32;
      if (p == MatmulPrecision::Medium) c = CUBLAS_COMPUTE_32F_FAST_16BF;
      return {CUDA_R_32F, c, 4, false};
    }
    case DType::Float64: return {CUDA_R_64F, CUBLAS_COMPUTE_64F, 8, true};
    case DType::Float16: return {CUDA_R_16F, CUBLAS_COMPUTE_32F, 2, false};
    case DType::BFloat16: return {CUDA_R_16BF, CUBLAS_COMPUTE_32F, 2, false};
    default: break;
  }
  throw_error(ErrorKind::NotImplemented,
              str_cat("matmul has no CUDA kernel for dtype ", dtype_name(t),
                      " (CUDA matmul takes float32, float64, float16 and bfloat16)"));
}

// Runs a CublasGemm (gemm.cuh) with cublasGemmStridedBatchedEx_64, INT_MAX matrices per call.
void run_call(const TypeInfo& ti, const CublasGemm& g, double alpha, const void* a,
              const void* b, double beta, void* c) {
  const float alpha_f = float(alpha), beta_f = float(beta);
  const void* pa = ti.dbl_scalars ? static_cast<const void*>(&alpha) : &alpha_f;
  const void* pb = ti.dbl_scalars ? static_cast<const void*>(&beta) : &beta_f;
  cublasHandle_t h = cublas_handle();
  const int64_t es = int64_t(ti.elem);
  for (int64_t b0 = 0; b0 < g.batch; b0 += INT_MAX) {
    const int64_t count = std::min<int64_t>(INT_MAX, g.batch - b0);
    RV_CUBLAS_CHECK(cublasGemmStridedBatchedEx_64(
        h, g.ta ? CUBLAS_OP_T : CUBLAS_OP_N, g.tb ? CUBLAS_OP_T : CUBLAS_OP_N, g.m, g.n, g.k, pa,
        static_cast<const char*>(a) + b0 * g.sa * es, ti.data, g.lda, g.sa,
        static_cast<const char*>(b) + b0 * g.sb * es, ti.data, g.ldb, g.sb, pb,
        static_cast<char*>(c) + b0 * g.sc * es, ti.data, g.ldc, g.sc, count, ti.compute,
        CUBLAS_GEMM_DEFAULT));
  }
}

// The packed [batch, rows, cols] copy of one operand, in `buf`.
const void* pack(const GemmSpec& s, const TypeInfo& ti, const void* data, int64_t rows,
                 int64_t cols, int64_t rs, int64_t cs, const int64_t* bstrides,
                 std::unique_ptr<ScratchBuffer>& buf) {
  const int64_t total = s.batch_numel * rows * cols;
  buf = std::make_unique<ScratchBuffer>(size_t(total) * ti.elem);
  gather(ti.elem, operand_batch(s, bstrides), rows, cols, rs, cs, data, buf->as<void>(), total);
  return buf->as<void>();
}

void gemm_cuda(const GemmSpec& s) {
  const TypeInfo ti = type_info(s.dtype);
  const int64_t cmat = s.m * s.n;
  if (s.batch_numel * cmat == 0) return;
  // C is contiguous: its batch offsets are bi * m * n (checked, the op layer makes it so).
  int64_t cstride = 0;
  RV_CHECK(single_batch_stride(operand_batch(s, s.c_bs), &cstride) &&
               (s.batch_numel == 1 || cstride == cmat),
           "matmul (CUDA): expected a contiguous output");
  if (s.k == 0) return scale_c(s.dtype, s.c, s.m, s.n, s.n, cmat, s.batch_numel, s.beta);
  const GemmPlan plan = plan_gemm(s);
  std::unique_ptr<ScratchBuffer> abuf, bbuf;
  const void* a = plan.pack_a ? pack(s, ti, s.a, s.m, s.k, s.a_rs, s.a_cs, s.a_bs, abuf) : s.a;
  const void* b = plan.pack_b ? pack(s, ti, s.b, s.k, s.n, s.b_rs, s.b_cs, s.b_bs, bbuf) : s.b;
  run_call(ti, plan.call, s.alpha, b, a, s.beta, s.c);  // cuBLAS's A is our B (gemm.cuh)
}

}  // namespace

void gemm_rm(DType dt, bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha,
             const void* a, int64_t lda, int64_t sa, const void* b, int64_t ldb, int64_t sb,
             double beta, void* c, int64_t ldc, int64_t sc, int64_t batch) {
  const TypeInfo ti = type_info(dt);
  if (batch * m * n == 0) return;
  if (k == 0) return scale_c(dt, c, m, n, ldc, sc, batch, beta);
  run_call(ti, row_major_call(ta, tb, m, n, k, lda, sa, ldb, sb, ldc, sc, batch), alpha, b, a,
           beta, c);  // cuBLAS's A is our B (gemm.cuh)
}

void register_gemm_cuda() { gemm_kernel.set(DeviceType::CUDA, &gemm_cuda); }

}  // namespace ranvier::cuda
