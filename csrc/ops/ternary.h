// Ternary elementwise ops with broadcasting over all three operands: where, lerp, clamp (number
// or tensor bounds, either may be absent), addcmul, addcdiv, and their in-place forms.
#pragma once
#include <optional>

#include "core/dispatch.h"
#include "core/scalar.h"
#include "core/tensor.h"
#include "kernels/common/loop_spec.h"
#include "kernels/common/ternary_ops.h"

namespace ranvier {

// cond ? a : b elementwise; cond is bool (uint8 is accepted); a and b promote together.
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
// start + weight * (end - start); floating dtypes only, end (and a non-0-d weight) of start's dtype.
Tensor lerp(const Tensor& start, const Tensor& end, const Tensor& weight);
Tensor lerp(const Tensor& start, const Tensor& end, const Scalar& weight);
Tensor& lerp_(Tensor& self, const Tensor& end, const Tensor& weight);
Tensor& lerp_(Tensor& self, const Tensor& end, const Scalar& weight);
// min(max(t, min), max); at least one bound must be given. The result dtype promotes t with
// the bounds (an int tensor clamped by a float gives float32).
Tensor clamp(const Tensor& t, const std::optional<Scalar>& min, const std::optional<Scalar>& max);
Tensor clamp(const Tensor& t, const Tensor& min, const Tensor& max);  // undefined = absent
Tensor& clamp_(Tensor& t, const std::optional<Scalar>& min, const std::optional<Scalar>& max);
Tensor& clamp_(Tensor& t, const Tensor& min, const Tensor& max);
// self + value * t1 * t2 and self + value * t1 / t2.
Tensor addcmul(const Tensor& self, const Tensor& t1, const Tensor& t2,
               const Scalar& value = Scalar(int64_t(1)));
Tensor addcdiv(const Tensor& self, const Tensor& t1, const Tensor& t2,
               const Scalar& value = Scalar(int64_t(1)));
Tensor& addcmul_(Tensor& self, const Tensor& t1, const Tensor& t2,
                 const Scalar& value = Scalar(int64_t(1)));
Tensor& addcdiv_(Tensor& self, const Tensor& t1, const Tensor& t2,
                 const Scalar& value = Scalar(int64_t(1)));

using TernaryKernel = void (*)(TernaryOp op, const LoopSpec& s, double alpha);
extern KernelSlot<TernaryKernel> ternary_kernel;

}  // namespace ranvier
