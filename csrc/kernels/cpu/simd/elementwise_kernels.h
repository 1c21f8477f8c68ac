// Declarations of the multi-arch elementwise kernels (one copy per SIMD level).
#pragma once
#include "kernels/common/binary_ops.h"
#include "kernels/common/loop_spec.h"
#include "kernels/common/ternary_ops.h"
#include "kernels/common/unary_ops.h"

namespace ranvier::cpu {
#define RV_DECLARE_ELEMENTWISE(ns)                                                       \
  namespace ns {                                                                         \
  void binary_kernel(BinaryOp op, const LoopSpec& s);                                    \
  void unary_kernel(UnaryOp op, const LoopSpec& s, const UnaryArgs& args);            \
  void ternary_kernel(TernaryOp op, const LoopSpec& s, double alpha);                    \
  }
RV_DECLARE_ELEMENTWISE(simd0)
RV_DECLARE_ELEMENTWISE(simd1)
RV_DECLARE_ELEMENTWISE(simd2)
#undef RV_DECLARE_ELEMENTWISE
}  // namespace ranvier::cpu
