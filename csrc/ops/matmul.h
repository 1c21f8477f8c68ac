// Matrix products: matmul (PyTorch's rules for 1-D operands and broadcast batch dims), mm, bmm,
// addmm, mv, dot, outer. float32/float64 run on OpenBLAS; float16/bfloat16 compute in float32;
// integer dtypes use a plain kernel. Backward formulas are products with transposed views
// (no copies: the kernel passes BLAS transpose flags), so double backward works.
#pragma once
#include "core/dispatch.h"
#include "core/scalar.h"
#include "core/tensor.h"

namespace ranvier {

// PyTorch's matmul: 1-D x 1-D dot, 1-D operands get a dim prepended/appended (and removed
// from the result), leading (batch) dims broadcast.
Tensor matmul(const Tensor& a, const Tensor& b);
// [m, k] x [k, n].
Tensor mm(const Tensor& a, const Tensor& b);
// [B, m, k] x [B, k, n].
Tensor bmm(const Tensor& a, const Tensor& b);
// beta * input + alpha * (m1 @ m2), input broadcast to [m, n]; beta = 0 ignores input.
Tensor addmm(const Tensor& input, const Tensor& m1, const Tensor& m2,
             const Scalar& beta = Scalar(int64_t(1)), const Scalar& alpha = Scalar(int64_t(1)));
// [m, k] x [k].
Tensor mv(const Tensor& a, const Tensor& v);
// nn.functional.linear: input @ weight^T (+ bias) over any leading dims of input; weight is
// (out, in) or (in); bias may be undefined. With a bias and a 2-D weight the bias goes into
// the product's output (addmm).
Tensor linear(const Tensor& input, const Tensor& weight, const Tensor& bias);
// Note [Fused patterns]: relu(linear(input, weight, bias)) as one call, with relu applied in
// place to the product's fresh output (the same bits), for 2-D input, 2-D weight and a bias of
// one floating dtype on one device when no autograd graph is recorded; an undefined tensor
// (nothing done) otherwise.
Tensor linear_relu_no_grad(const Tensor& input, const Tensor& weight, const Tensor& bias);
// [k] . [k] -> 0-d.
Tensor dot(const Tensor& a, const Tensor& b);
// [m] x [n] -> [m, n].
Tensor outer(const Tensor& a, const Tensor& b);

// What a GEMM kernel sees: C[b] = alpha * A[b] @ B[b] + beta * C[b] for every batch index b.
// A is m x k, B is k x n, with any element strides (BLAS gets transpose flags when one of the
// two strides is 1, a packed copy otherwise); C is contiguous (row stride n). beta = 0 never
// reads C. The batch dims have their own sizes and per-operand strides (0 = broadcast).
struct GemmSpec {
  DType dtype = DType::Float32;
  int64_t m = 0, n = 0, k = 0;
  const char* a = nullptr;
  int64_t a_rs = 0, a_cs = 0;
  const char* b = nullptr;
  int64_t b_rs = 0, b_cs = 0;
  char* c = nullptr;
  double alpha = 1.0, beta = 0.0;
  int nbatch = 0;
  int64_t batch_sizes[kMaxDims] = {};
  int64_t a_bs[kMaxDims] = {};
  int64_t b_bs[kMaxDims] = {};
  int64_t c_bs[kMaxDims] = {};
  int64_t batch_numel = 1;
  // CPU only (null elsewhere): when set, C's old contents are this row of n elements (element
  // stride c_row_stride) repeated over every row and batch; the kernel reads it in place of C,
  // so a bias never has to be copied into the output first.
  const char* c_row = nullptr;
  int64_t c_row_stride = 1;
};

using GemmKernel = void (*)(const GemmSpec& s);
extern KernelSlot<GemmKernel> gemm_kernel;

}  // namespace ranvier
