// Binary elementwise ops with broadcasting and PyTorch type promotion: arithmetic, division
// modes, pow, minimum/maximum, atan2, comparisons, logical and bitwise ops, and their in-place
// forms. Scalar overloads take Python-style numbers (they take part in promotion only by
// category, like PyTorch's wrapped numbers).
#pragma once
#include "core/dispatch.h"
#include "core/scalar.h"
#include "core/tensor.h"
#include "kernels/common/binary_ops.h"
#include "kernels/common/loop_spec.h"

namespace ranvier {

// div's rounding_mode: None (true division), 'trunc' or 'floor'.
enum class RoundingMode : int8_t { None, Trunc, Floor };
// Parses None-as-empty / "trunc" / "floor"; RuntimeError naming op otherwise.
RoundingMode parse_rounding_mode(const char* mode, const char* op);

Tensor add(const Tensor& a, const Tensor& b, const Scalar& alpha = Scalar(int64_t(1)));
Tensor add(const Tensor& a, const Scalar& b, const Scalar& alpha = Scalar(int64_t(1)));
Tensor sub(const Tensor& a, const Tensor& b, const Scalar& alpha = Scalar(int64_t(1)));
Tensor sub(const Tensor& a, const Scalar& b, const Scalar& alpha = Scalar(int64_t(1)));
// s - t for a number s (the reflected `-`).
Tensor rsub(const Tensor& t, const Scalar& s);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Scalar& b);
Tensor div(const Tensor& a, const Tensor& b, RoundingMode mode = RoundingMode::None);
Tensor div(const Tensor& a, const Scalar& b, RoundingMode mode = RoundingMode::None);
// s / t for a number s (the reflected `/`).
Tensor rdiv(const Tensor& t, const Scalar& s);
Tensor floor_divide(const Tensor& a, const Tensor& b);
Tensor remainder(const Tensor& a, const Tensor& b);
Tensor fmod(const Tensor& a, const Tensor& b);
Tensor pow(const Tensor& a, const Tensor& b);
Tensor pow(const Tensor& a, const Scalar& exponent);
Tensor pow(const Scalar& base, const Tensor& exponent);
Tensor minimum(const Tensor& a, const Tensor& b);
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor atan2(const Tensor& a, const Tensor& b);

Tensor& add_(Tensor& self, const Tensor& other, const Scalar& alpha = Scalar(int64_t(1)));
Tensor& add_(Tensor& self, const Scalar& other, const Scalar& alpha = Scalar(int64_t(1)));
Tensor& sub_(Tensor& self, const Tensor& other, const Scalar& alpha = Scalar(int64_t(1)));
Tensor& sub_(Tensor& self, const Scalar& other, const Scalar& alpha = Scalar(int64_t(1)));
Tensor& mul_(Tensor& self, const Tensor& other);
Tensor& mul_(Tensor& self, const Scalar& other);
Tensor& div_(Tensor& self, const Tensor& other, RoundingMode mode = RoundingMode::None);
Tensor& floor_divide_(Tensor& self, const Tensor& other);
Tensor& remainder_(Tensor& self, const Tensor& other);
Tensor& fmod_(Tensor& self, const Tensor& other);
Tensor& pow_(Tensor& self, const Tensor& exponent);
Tensor& pow_(Tensor& self, const Scalar& exponent);
Tensor& minimum_(Tensor& self, const Tensor& other);
Tensor& maximum_(Tensor& self, const Tensor& other);
Tensor& atan2_(Tensor& self, const Tensor& other);

// Comparisons (bool results, no gradient).
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
// Logical ops (bool results, any input dtype) and bitwise ops (bool and integer dtypes).
Tensor logical_and(const Tensor& a, const Tensor& b);
Tensor logical_or(const Tensor& a, const Tensor& b);
Tensor logical_xor(const Tensor& a, const Tensor& b);
Tensor bitwise_and(const Tensor& a, const Tensor& b);
Tensor bitwise_or(const Tensor& a, const Tensor& b);
Tensor bitwise_xor(const Tensor& a, const Tensor& b);
// In-place form of any of the non-differentiable ops above (comparisons, logical, bitwise):
// the result is cast into self's dtype.
Tensor& binary_inplace_nograd(BinaryOp op, Tensor& self, const Tensor& other, const char* name);

// Any BinaryOp without autograd (comparisons give bool): the shared forward of the family.
Tensor binary_forward(BinaryOp op, const Tensor& a, const Tensor& b, const char* name);
// In-place form of binary_forward: writes into self (no autograd; bumps the version).
Tensor& binary_forward_(BinaryOp op, Tensor& self, const Tensor& other, const char* name);
// The 0-d tensor for a Python number, in the dtype the op will compute in with t (float32 for
// a float number against a float16/bfloat16 tensor: promotion still gives t's dtype).
Tensor wrap_scalar(const Scalar& s, const Tensor& t);
// dst += src with no autograd and no version bump (internal accumulation into views).
void add_raw_(const Tensor& dst, const Tensor& src);
// RuntimeError unless other broadcasts to self's shape and the result dtype of op can be cast
// to self's dtype (the checks every in-place binary op makes before writing).
void check_inplace_binary(BinaryOp op, const Tensor& self, const Tensor& other, const char* name);

// Reduces a broadcast gradient back to shape (sums over the broadcast dims).
Tensor sum_to_size(const Tensor& g, const Shape& shape);

using BinaryKernel = void (*)(BinaryOp op, const LoopSpec& s);
extern KernelSlot<BinaryKernel> binary_kernel;

}  // namespace ranvier
