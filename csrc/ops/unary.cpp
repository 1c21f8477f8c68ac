// Unary elementwise ops (see unary.h). Backward formulas are written with ops.
#include "ops/unary.h"

#include "autograd/function.h"
#include "autograd/inplace.h"
#include "ops/binary.h"
#include "ops/copy.h"
#include "ops/factory.h"
#include "ops/iter.h"

namespace ranvier {

using autograd::BackwardContext;
using autograd::TensorList;

KernelSlot<UnaryKernel> unary_kernel;

namespace {
DType unary_compute_dtype(UnaryOp op, DType in) {
  if (is_reduced_float(in)) return DType::Float32;
  if (unary_needs_float(op) && !is_floating(in)) return DType::Float32;
  return in;
}
DType unary_result_dtype(UnaryOp op, DType in) {
  if (unary_is_predicate(op)) return DType::Bool;
  if (unary_needs_float(op) && !is_floating(in)) return DType::Float32;
  return in;
}
}  // namespace

Tensor unary_forward(UnaryOp op, const Tensor& t, const char* name, const UnaryArgs& args) {
  DType ct = unary_compute_dtype(op, t.dtype());
  DType rt = unary_result_dtype(op, t.dtype());
  Tensor in = t.dtype() == ct ? t : to_dtype(detach(t), ct);
  Tensor out = empty(t.sizes(), unary_is_predicate(op) ? DType::Bool : ct, t.device());
  if (out.numel() > 0) {
    LoopSpec s = make_loop(out, {&in});
    unary_kernel.get(t.device(), name)(op, s, args);
  }
  if (out.dtype() != rt) out = to_dtype(out, rt);
  return out;
}

Tensor& unary_forward_(UnaryOp op, Tensor& t, const char* name, const UnaryArgs& args) {
  DType rt = unary_result_dtype(op, t.dtype());
  RV_CHECK(can_cast(rt, t.dtype()), name, ": result type ", dtype_short_name(rt),
           " can't be cast to the desired output type ", dtype_short_name(t.dtype()));
  if (t.numel() > 0) {
    if (unary_compute_dtype(op, t.dtype()) == t.dtype() && !unary_is_predicate(op)) {
      LoopSpec s = make_loop(t, {&t});
      unary_kernel.get(t.device(), name)(op, s, args);
    } else {
      Tensor r = unary_forward(op, detach(t), name, args);
      Tensor d = detach(t);
      LoopSpec s = make_loop(d, {&r});
      cast_kernel.get(t.device(), name)(s);
    }
  }
  t.bump_version();
  return t;
}

#define RV_UNARY_SIMPLE_GRAD(fname, OP, NODE, SAVE_IN, SAVE_OUT, FORMULA)                     \
  Tensor fname(const Tensor& t) {                                                           \
    Tensor out = unary_forward(UnaryOp::OP, t, #fname);                                     \
    if (autograd::needs_grad({t})) {                                                        \
      autograd::record(NODE, {t}, {&out}, SAVE_IN ? std::vector<Tensor>{t} : std::vector<Tensor>{}, \
                       SAVE_OUT ? std::vector<Tensor*>{&out} : std::vector<Tensor*>{},      \
                       [](BackwardContext& c) { return TensorList{FORMULA}; });             \
    }                                                                                       \
    return out;                                                                             \
  }

RV_UNARY_SIMPLE_GRAD(neg, Neg, "NegBackward0", false, false, neg(c.grad()))
RV_UNARY_SIMPLE_GRAD(exp, Exp, "ExpBackward0", false, true, mul(c.grad(), c.saved(0)))
RV_UNARY_SIMPLE_GRAD(log, Log, "LogBackward0", true, false, div(c.grad(), c.saved(0)))
RV_UNARY_SIMPLE_GRAD(sqrt, Sqrt, "SqrtBackward0", false, true,
                     div(c.grad(), mul(c.saved(0), Scalar(2.0))))
RV_UNARY_SIMPLE_GRAD(tanh, Tanh, "TanhBackward0", false, true,
                     mul(c.grad(), sub(ones_like(c.saved(0)), mul(c.saved(0), c.saved(0)))))
RV_UNARY_SIMPLE_GRAD(sigmoid, Sigmoid, "SigmoidBackward0", false, true,
                     mul(c.grad(), mul(c.saved(0), sub(ones_like(c.saved(0)), c.saved(0)))))
RV_UNARY_SIMPLE_GRAD(relu, Relu, "ReluBackward0", false, true,
                     mul(c.grad(), to_dtype(gt(c.saved(0), zeros_like(c.saved(0))), c.grad().dtype())))
RV_UNARY_SIMPLE_GRAD(abs, Abs, "AbsBackward0", true, false, mul(c.grad(), sign(c.saved(0))))
#undef RV_UNARY_SIMPLE_GRAD

Tensor sign(const Tensor& t) {
  Tensor out = unary_forward(UnaryOp::Sign, t, "sign");
  if (autograd::needs_grad({t})) {
    autograd::record("SignBackward0", {t}, {&out}, {}, {},
                     [](BackwardContext& c) { return TensorList{zeros_like(c.grad())}; });
  }
  return out;
}

Tensor& relu_(Tensor& t) {
  if (autograd::inplace_needs_grad(t, {}, "relu_"))
    return autograd::record_inplace(t, "relu_", [](const Tensor& s) { return relu(s); });
  return unary_forward_(UnaryOp::Relu, t, "relu_");
}

Tensor& neg_(Tensor& t) {
  if (autograd::inplace_needs_grad(t, {}, "neg_"))
    return autograd::record_inplace(t, "neg_", [](const Tensor& s) { return neg(s); });
  return unary_forward_(UnaryOp::Neg, t, "neg_");
}

}  // namespace ranvier
