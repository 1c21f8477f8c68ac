// Binary elementwise ops with broadcasting and PyTorch type promotion: arithmetic, their
// in-place forms, and comparisons. Scalar overloads take Python-style numbers.
#pragma once
#include "core/dispatch.h"
#include "core/scalar.h"
#include "core/tensor.h"
#include "kernels/common/binary_ops.h"
#include "kernels/common/loop_spec.h"

namespace ranvier {

Tensor add(const Tensor& a, const Tensor& b, const Scalar& alpha = Scalar(int64_t(1)));
Tensor add(const Tensor& a, const Scalar& b, const Scalar& alpha = Scalar(int64_t(1)));
Tensor sub(const Tensor& a, const Tensor& b, const Scalar& alpha = Scalar(int64_t(1)));
Tensor sub(const Tensor& a, const Scalar& b, const Scalar& alpha = Scalar(int64_t(1)));
Tensor mul(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Scalar& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Scalar& b);
Tensor& add_(Tensor& self, const Tensor& other, const Scalar& alpha = Scalar(int64_t(1)));
Tensor& add_(Tensor& self, const Scalar& other, const Scalar& alpha = Scalar(int64_t(1)));
Tensor& sub_(Tensor& self, const Tensor& other, const Scalar& alpha = Scalar(int64_t(1)));
Tensor& mul_(Tensor& self, const Tensor& other);
Tensor& mul_(Tensor& self, const Scalar& other);
Tensor& div_(Tensor& self, const Tensor& other);

// Any BinaryOp without autograd (comparisons give bool): the shared forward of the family.
Tensor binary_forward(BinaryOp op, const Tensor& a, const Tensor& b, const char* name);
// In-place form of binary_forward: writes into self (no autograd; bumps the version).
Tensor& binary_forward_(BinaryOp op, Tensor& self, const Tensor& other, const char* name);
// The 0-d tensor for a Python number, already in the dtype the op will compute in with t.
Tensor wrap_scalar(const Scalar& s, const Tensor& t);
// dst += src with no autograd and no version bump (internal accumulation into views).
void add_raw_(const Tensor& dst, const Tensor& src);

// Reduces a broadcast gradient back to shape (sums over the broadcast dims).
Tensor sum_to_size(const Tensor& g, const Shape& shape);

using BinaryKernel = void (*)(BinaryOp op, const LoopSpec& s);
extern KernelSlot<BinaryKernel> binary_kernel;

// Comparisons (bool results, no gradient).
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);

}  // namespace ranvier
