// Unary elementwise ops (see unary.h). Backward formulas are written with ops, so double
// backward works. Rounding ops and sign have a zero gradient, like PyTorch.
#include "ops/unary.h"

#include <cfloat>
#include <cmath>

#include "autograd/function.h"
#include "autograd/inplace.h"
#include "ops/binary.h"
#include "ops/copy.h"
#include "ops/factory.h"
#include "ops/iter.h"
#include "ops/ternary.h"
#include "ops/unary_internal.h"

namespace ranvier {

using autograd::BackwardContext;
using autograd::TensorList;

KernelSlot<UnaryKernel> unary_kernel{"unary"};

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
const char* kernel_name(UnaryOp op) {
  switch (op) {
    case UnaryOp::Abs: return "abs";
    case UnaryOp::Floor: return "floor";
    case UnaryOp::Ceil: return "ceil";
    case UnaryOp::Round: case UnaryOp::RoundDecimals: return "round";
    case UnaryOp::Trunc: return "trunc";
    case UnaryOp::Frac: return "frac";
    case UnaryOp::Gelu: case UnaryOp::GeluTanh: return "gelu";
    case UnaryOp::Silu: return "silu";
    case UnaryOp::Softplus: return "softplus";
    case UnaryOp::LeakyRelu: return "leaky_relu";
    case UnaryOp::BitNot: return "bitwise_not";
    default: return "unary op";
  }
}
}  // namespace

void check_unary_dtype(UnaryOp op, DType t, const char* name) {
  RV_CHECK(!(op == UnaryOp::Neg && t == DType::Bool), name,
           ": Negation, the `-` operator, on a bool tensor is not supported. If you are trying "
           "to invert a mask, use the `~` or `logical_not()` operator instead.");
  RV_CHECK(!(op == UnaryOp::Relu && t == DType::Bool), name,
           ": Boolean inputs not supported for relu");
  bool bad = false;
  switch (op) {
    case UnaryOp::Abs:
    case UnaryOp::Floor:
    case UnaryOp::Ceil:
    case UnaryOp::Round:
    case UnaryOp::Trunc:
    case UnaryOp::PowScalar: bad = t == DType::Bool; break;
    case UnaryOp::Frac:
    case UnaryOp::RoundDecimals:
    case UnaryOp::Gelu:
    case UnaryOp::GeluTanh:
    case UnaryOp::Silu:
    case UnaryOp::Softplus:
    case UnaryOp::LeakyRelu: bad = !is_floating(t); break;
    case UnaryOp::BitNot: bad = is_floating(t); break;
    default: break;
  }
  RV_CHECK_NOT_IMPLEMENTED(!bad, name, ": \"", kernel_name(op), "\" not implemented for '",
                           dtype_short_name(t), "'");
}

Tensor unary_forward(UnaryOp op, const Tensor& t, const char* name, const UnaryArgs& args) {
  check_unary_dtype(op, t.dtype(), name);
  DType ct = unary_compute_dtype(op, t.dtype());
  DType rt = unary_result_dtype(op, t.dtype());
  Tensor in = kernel_operand(t, ct, t.device());
  Tensor out = empty(t.sizes(),
                     unary_is_predicate(op) ? DType::Bool : kernel_output_dtype(rt, ct, t.device()),
                     t.device());
  if (out.numel() > 0) {
    LoopSpec s = make_loop(out, {&in});
    unary_kernel.get(t.device(), name)(op, s, args);
  }
  if (out.dtype() != rt) out = to_dtype(out, rt);
  return out;
}

Tensor& unary_forward_(UnaryOp op, Tensor& t, const char* name, const UnaryArgs& args) {
  check_unary_dtype(op, t.dtype(), name);
  DType rt = unary_result_dtype(op, t.dtype());
  RV_CHECK(can_cast(rt, t.dtype()), name, ": result type ", dtype_short_name(rt),
           " can't be cast to the desired output type ", dtype_short_name(t.dtype()));
  if (t.numel() > 0) {
    if (kernel_takes(t.dtype(), unary_compute_dtype(op, t.dtype()), t.device()) &&
        !unary_is_predicate(op)) {
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

Tensor& unary_inplace(Tensor& t, UnaryOp op, const char* name, const UnaryArgs& args,
                      Tensor (*outofplace)(const Tensor&)) {
  if (autograd::inplace_needs_grad(t, {}, name)) {
    check_unary_dtype(op, t.dtype(), name);
    DType rt = unary_result_dtype(op, t.dtype());
    RV_CHECK(can_cast(rt, t.dtype()), name, ": result type ", dtype_short_name(rt),
             " can't be cast to the desired output type ", dtype_short_name(t.dtype()));
    return autograd::record_inplace(t, name, [&](const Tensor& s) { return outofplace(s); });
  }
  return unary_forward_(op, t, name, args);
}

Tensor zero_grad_like(const Tensor& g) { return zeros_like(g); }

// One differentiable unary op and its in-place form. SAVE: 0 = nothing, 1 = the input,
// 2 = the output; FORMULA uses g (the incoming gradient) and s (the saved tensor).
#define RV_UNARY_OP(fname, OP, NODE, SAVE, FORMULA)                                          \
  Tensor fname(const Tensor& t) {                                                           \
    Tensor out = unary_forward(UnaryOp::OP, t, #fname);                                     \
    if (autograd::needs_grad({t})) {                                                        \
      autograd::record(NODE, {t}, {&out},                                                   \
                       SAVE == 1 ? std::vector<Tensor>{t} : std::vector<Tensor>{},          \
                       SAVE == 2 ? std::vector<Tensor*>{&out} : std::vector<Tensor*>{},     \
                       [](BackwardContext& c) {                                             \
                         const Tensor& g = c.grad();                                        \
                         Tensor s = SAVE ? c.saved(0) : Tensor();                           \
                         (void)s;                                                           \
                         return TensorList{FORMULA};                                        \
                       });                                                                  \
    }                                                                                       \
    return out;                                                                             \
  }                                                                                         \
  Tensor& fname##_(Tensor& t) {                                                             \
    return unary_inplace(t, UnaryOp::OP, #fname "_", {}, [](const Tensor& x) { return fname(x); }); \
  }

constexpr double kLn2 = 0.69314718055994530942;
constexpr double kLn10 = 2.30258509299404568402;
constexpr double kTwoOverSqrtPi = 1.12837916709551257390;

RV_UNARY_OP(neg, Neg, "NegBackward0", 0, neg(g))
RV_UNARY_OP(abs, Abs, "AbsBackward0", 1, mul(g, sign(s)))
RV_UNARY_OP(sign, Sign, "SignBackward0", 0, zero_grad_like(g))
RV_UNARY_OP(reciprocal, Reciprocal, "ReciprocalBackward0", 2, neg(mul(g, mul(s, s))))
RV_UNARY_OP(exp, Exp, "ExpBackward0", 2, mul(g, s))
RV_UNARY_OP(exp2, Exp2, "Exp2Backward0", 2, mul(mul(g, s), Scalar(kLn2)))
RV_UNARY_OP(expm1, Expm1, "Expm1Backward0", 2, mul(g, add(s, Scalar(int64_t(1)))))
RV_UNARY_OP(log, Log, "LogBackward0", 1, div(g, s))
RV_UNARY_OP(log1p, Log1p, "Log1pBackward0", 1, div(g, add(s, Scalar(int64_t(1)))))
RV_UNARY_OP(log2, Log2, "Log2Backward0", 1, div(g, mul(s, Scalar(kLn2))))
RV_UNARY_OP(log10, Log10, "Log10Backward0", 1, div(g, mul(s, Scalar(kLn10))))
RV_UNARY_OP(sqrt, Sqrt, "SqrtBackward0", 2, div(g, mul(s, Scalar(2.0))))
RV_UNARY_OP(rsqrt, Rsqrt, "RsqrtBackward0", 2, mul(mul(g, mul(s, mul(s, s))), Scalar(-0.5)))
RV_UNARY_OP(sin, Sin, "SinBackward0", 1, mul(g, cos(s)))
RV_UNARY_OP(cos, Cos, "CosBackward0", 1, neg(mul(g, sin(s))))
RV_UNARY_OP(tan, Tan, "TanBackward0", 2, mul(g, add(mul(s, s), Scalar(int64_t(1)))))
RV_UNARY_OP(asin, Asin, "AsinBackward0", 1, mul(g, rsqrt(rsub_one(mul(s, s)))))
RV_UNARY_OP(acos, Acos, "AcosBackward0", 1, neg(mul(g, rsqrt(rsub_one(mul(s, s))))))
RV_UNARY_OP(atan, Atan, "AtanBackward0", 1, div(g, add(mul(s, s), Scalar(int64_t(1)))))
RV_UNARY_OP(sinh, Sinh, "SinhBackward0", 1, mul(g, cosh(s)))
RV_UNARY_OP(cosh, Cosh, "CoshBackward0", 1, mul(g, sinh(s)))
RV_UNARY_OP(tanh, Tanh, "TanhBackward0", 2, mul(g, rsub_one(mul(s, s))))
RV_UNARY_OP(sigmoid, Sigmoid, "SigmoidBackward0", 2, mul(g, mul(s, rsub_one(s))))
RV_UNARY_OP(erf, Erf, "ErfBackward0", 1, mul(mul(g, exp(neg(mul(s, s)))), Scalar(kTwoOverSqrtPi)))
RV_UNARY_OP(erfc, Erfc, "ErfcBackward0", 1,
            mul(mul(g, exp(neg(mul(s, s)))), Scalar(-kTwoOverSqrtPi)))
RV_UNARY_OP(floor, Floor, "FloorBackward0", 0, zero_grad_like(g))
RV_UNARY_OP(ceil, Ceil, "CeilBackward0", 0, zero_grad_like(g))
RV_UNARY_OP(trunc, Trunc, "TruncBackward0", 0, zero_grad_like(g))
RV_UNARY_OP(frac, Frac, "FracBackward0", 0, g)
#undef RV_UNARY_OP

Tensor rsub_one(const Tensor& t) { return sub(ones_like(t), t); }

Tensor square(const Tensor& t) {
  if (t.dtype() == DType::Bool) return square(to_dtype(t, DType::Int64));
  Tensor out = unary_forward(UnaryOp::Square, t, "square");
  if (autograd::needs_grad({t})) {
    autograd::record("PowBackward0", {t}, {&out}, {t}, {}, [](BackwardContext& c) {
      return TensorList{mul(mul(c.grad(), c.saved(0)), Scalar(2.0))};
    });
  }
  return out;
}

Tensor& square_(Tensor& t) {
  RV_CHECK(t.dtype() != DType::Bool,
           "square_: result type Long can't be cast to the desired output type Bool");
  return unary_inplace(t, UnaryOp::Square, "square_", {}, [](const Tensor& x) { return square(x); });
}

Tensor round(const Tensor& t, int64_t decimals) {
  if (decimals == 0) {
    Tensor out = unary_forward(UnaryOp::Round, t, "round");
    if (autograd::needs_grad({t}))
      autograd::record("RoundBackward0", {t}, {&out}, {}, {},
                       [](BackwardContext& c) { return TensorList{zeros_like(c.grad())}; });
    return out;
  }
  UnaryArgs args;
  args.a = std::pow(10.0, double(decimals > 0 ? decimals : -decimals));
  args.b = decimals > 0 ? 1.0 : -1.0;
  Tensor out = unary_forward(UnaryOp::RoundDecimals, t, "round", args);
  if (autograd::needs_grad({t}))
    autograd::record("RoundBackward1", {t}, {&out}, {}, {},
                     [](BackwardContext& c) { return TensorList{zeros_like(c.grad())}; });
  return out;
}

Tensor& round_(Tensor& t, int64_t decimals) {
  if (autograd::inplace_needs_grad(t, {}, "round_"))
    return autograd::record_inplace(t, "round_",
                                    [&](const Tensor& s) { return round(s, decimals); });
  if (decimals == 0) return unary_forward_(UnaryOp::Round, t, "round_");
  UnaryArgs args;
  args.a = std::pow(10.0, double(decimals > 0 ? decimals : -decimals));
  args.b = decimals > 0 ? 1.0 : -1.0;
  return unary_forward_(UnaryOp::RoundDecimals, t, "round_", args);
}

namespace {
UnaryArgs nan_to_num_args(DType d, double nan, bool has_pos, double pos, bool has_neg,
                          double negv) {
  double big = d == DType::Float64   ? DBL_MAX
               : d == DType::Float16 ? 65504.0
               : d == DType::BFloat16 ? 3.3895313892515355e38
                                      : double(FLT_MAX);
  UnaryArgs a;
  a.a = nan;
  a.b = has_pos ? pos : big;
  a.c = has_neg ? negv : -big;
  return a;
}
}  // namespace

Tensor nan_to_num(const Tensor& t, double nan, bool has_posinf, double posinf, bool has_neginf,
                  double neginf) {
  if (!is_floating(t.dtype())) return clone(t);
  UnaryArgs args = nan_to_num_args(t.dtype(), nan, has_posinf, posinf, has_neginf, neginf);
  Tensor out = unary_forward(UnaryOp::NanToNum, t, "nan_to_num", args);
  if (autograd::needs_grad({t}))
    autograd::record("NanToNumBackward0", {t}, {&out}, {t}, {}, [](BackwardContext& c) {
      const Tensor& g = c.grad();
      return TensorList{mul(g, to_dtype(isfinite(c.saved(0)), g.dtype()))};
    });
  return out;
}

Tensor& nan_to_num_(Tensor& t, double nan, bool has_posinf, double posinf, bool has_neginf,
                    double neginf) {
  if (autograd::inplace_needs_grad(t, {}, "nan_to_num_"))
    return autograd::record_inplace(t, "nan_to_num_", [&](const Tensor& s) {
      return nan_to_num(s, nan, has_posinf, posinf, has_neginf, neginf);
    });
  if (!is_floating(t.dtype())) {
    t.bump_version();
    return t;
  }
  UnaryArgs args = nan_to_num_args(t.dtype(), nan, has_posinf, posinf, has_neginf, neginf);
  return unary_forward_(UnaryOp::NanToNum, t, "nan_to_num_", args);
}

// ---- no gradient ----

Tensor logical_not(const Tensor& t) { return unary_forward(UnaryOp::LogicalNot, t, "logical_not"); }
Tensor& logical_not_(Tensor& t) {
  return unary_inplace(t, UnaryOp::LogicalNot, "logical_not_", {},
                       [](const Tensor& x) { return logical_not(x); });
}
Tensor bitwise_not(const Tensor& t) { return unary_forward(UnaryOp::BitNot, t, "bitwise_not"); }
Tensor& bitwise_not_(Tensor& t) {
  return unary_inplace(t, UnaryOp::BitNot, "bitwise_not_", {},
                       [](const Tensor& x) { return bitwise_not(x); });
}
Tensor isnan(const Tensor& t) { return unary_forward(UnaryOp::IsNan, t, "isnan"); }
Tensor isinf(const Tensor& t) { return unary_forward(UnaryOp::IsInf, t, "isinf"); }
Tensor isfinite(const Tensor& t) { return unary_forward(UnaryOp::IsFinite, t, "isfinite"); }
Tensor signbit(const Tensor& t) { return unary_forward(UnaryOp::SignBit, t, "signbit"); }

}  // namespace ranvier
