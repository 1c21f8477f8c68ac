// Helpers shared by the unary op files (unary.cpp, activation.cpp, ternary.cpp); not part of
// the public API.
#pragma once
#include "core/tensor.h"
#include "kernels/common/unary_ops.h"

namespace ranvier {

// RuntimeError / NotImplementedError (PyTorch's wording) when op has no kernel for dtype t.
void check_unary_dtype(UnaryOp op, DType t, const char* name);
// The in-place recipe for a unary op: under autograd, outofplace on a snapshot of t;
// otherwise the raw kernel into t.
Tensor& unary_inplace(Tensor& t, UnaryOp op, const char* name, const UnaryArgs& args,
                      Tensor (*outofplace)(const Tensor&));
// zeros_like(g): the gradient of piecewise-constant ops.
Tensor zero_grad_like(const Tensor& g);
// 1 - t.
Tensor rsub_one(const Tensor& t);

}  // namespace ranvier
