// Unary elementwise ops (math functions, activations, rounding, predicates) and their
// in-place forms. Float-only ops give the default float dtype for integer inputs.
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

Tensor neg(const Tensor& t);
Tensor exp(const Tensor& t);
Tensor log(const Tensor& t);
Tensor sqrt(const Tensor& t);
Tensor tanh(const Tensor& t);
Tensor sigmoid(const Tensor& t);
Tensor relu(const Tensor& t);
Tensor abs(const Tensor& t);
Tensor sign(const Tensor& t);
Tensor& relu_(Tensor& t);
Tensor& neg_(Tensor& t);

using UnaryKernel = void (*)(UnaryOp op, const LoopSpec& s, const UnaryArgs& args);
extern KernelSlot<UnaryKernel> unary_kernel;

}  // namespace ranvier
