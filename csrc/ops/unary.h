// Unary elementwise ops (math functions, rounding, predicates) and their in-place forms.
// Float-only ops give the default float dtype (float32) for integer and bool inputs; float16
// and bfloat16 compute in float32 and round back. Activations live in ops/activation.h.
#pragma once
#include "core/dispatch.h"
#include "core/scalar.h"
#include "core/tensor.h"
#include "kernels/common/loop_spec.h"
#include "kernels/common/unary_ops.h"

namespace ranvier {

// Any UnaryOp without autograd: the shared forward of the family.
Tensor unary_forward(UnaryOp op, const Tensor& t, const char* name, const UnaryArgs& args = {});
// In-place form (no autograd; bumps the version).
Tensor& unary_forward_(UnaryOp op, Tensor& t, const char* name, const UnaryArgs& args = {});

// Each op f below has an in-place form f_ (Tensor& f_(Tensor&)).
#define RV_FORALL_UNARY_OPS(X)                                                              \
  X(neg) X(abs) X(sign) X(reciprocal) X(square) X(exp) X(exp2) X(expm1) X(log) X(log1p)      \
  X(log2) X(log10) X(sqrt) X(rsqrt) X(sin) X(cos) X(tan) X(asin) X(acos) X(atan) X(sinh)     \
  X(cosh) X(tanh) X(sigmoid) X(erf) X(erfc) X(floor) X(ceil) X(trunc) X(frac)             \
  X(logical_not) X(bitwise_not)
#define RV_DECLARE_UNARY(name) \
  Tensor name(const Tensor& t); \
  Tensor& name##_(Tensor& t);
RV_FORALL_UNARY_OPS(RV_DECLARE_UNARY)
#undef RV_DECLARE_UNARY

// round to nearest, ties to even; decimals != 0 rounds to that many decimal places.
Tensor round(const Tensor& t, int64_t decimals = 0);
Tensor& round_(Tensor& t, int64_t decimals = 0);
// NaN -> nan, +inf -> posinf, -inf -> neginf; the infinities default to the dtype's largest
// finite values (has_posinf / has_neginf false).
Tensor nan_to_num(const Tensor& t, double nan = 0.0, bool has_posinf = false, double posinf = 0,
                  bool has_neginf = false, double neginf = 0);
Tensor& nan_to_num_(Tensor& t, double nan = 0.0, bool has_posinf = false, double posinf = 0,
                    bool has_neginf = false, double neginf = 0);
// Predicates (bool results, no gradient).
Tensor isnan(const Tensor& t);
Tensor isinf(const Tensor& t);
Tensor isfinite(const Tensor& t);
Tensor signbit(const Tensor& t);

using UnaryKernel = void (*)(UnaryOp op, const LoopSpec& s, const UnaryArgs& args);
extern KernelSlot<UnaryKernel> unary_kernel;

}  // namespace ranvier

#include "ops/activation.h"
