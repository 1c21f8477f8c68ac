// Ternary elementwise ops (see ternary.h). Flow as in binary.cpp: devices, result dtype,
// conversion to the compute dtype (float32 for float16/bfloat16; where copies any dtype as
// is), a three-way broadcast, the kernel slot, conversion back, and the backward with ops.
#include "ops/ternary.h"

#include <limits>

#include "autograd/function.h"
#include "autograd/inplace.h"
#include "ops/binary.h"
#include "ops/copy.h"
#include "ops/factory.h"
#include "ops/iter.h"
#include "ops/unary.h"
#include "ops/unary_internal.h"

namespace ranvier {

using autograd::BackwardContext;
using autograd::TensorList;

KernelSlot<TernaryKernel> ternary_kernel{"ternary"};

namespace {

DType compute_dtype(DType t) { return is_reduced_float(t) ? DType::Float32 : t; }

Tensor as_dtype(const Tensor& t, DType d) { return t.dtype() == d ? t : to_dtype(detach(t), d); }

Shape broadcast3(const Tensor& x, const Tensor& y, const Tensor& z, const char* name) {
  if (x.sizes() == y.sizes() && y.sizes() == z.sizes()) return x.sizes();
  return broadcast_shapes(broadcast_shapes(x.sizes(), y.sizes(), name), z.sizes(), name);
}

Device out_device(const Tensor& x, const Tensor& y, const Tensor& z) {
  for (const Tensor* t : {&x, &y, &z})
    if (!(t->dim() == 0 && t->device().is_cpu())) return t->device();
  return x.device();
}

// The raw forward: result dtype rt (decided by the caller), no autograd.
Tensor ternary_forward(TernaryOp op, const Tensor& x, const Tensor& y, const Tensor& z, DType rt,
                       const char* name, double alpha = 0) {
  check_same_device(name, {&x, &y, &z});
  Shape shape = broadcast3(x, y, z, name);
  bool is_where = op == TernaryOp::Where;
  DType ct = is_where ? rt : compute_dtype(rt);
  Device dev = out_device(x, y, z);
  Tensor xc = is_where ? as_dtype(x, DType::Bool) : kernel_operand(x, ct, dev);
  Tensor yc = kernel_operand(y, ct, dev), zc = kernel_operand(z, ct, dev);
  Tensor out = empty(shape, is_where ? ct : kernel_output_dtype(rt, ct, dev), dev);
  if (out.numel() > 0) {
    LoopSpec s = make_loop(out, {&xc, &yc, &zc});
    ternary_kernel.get(dev, name)(op, s, alpha);
  }
  if (out.dtype() != rt) out = to_dtype(out, rt);
  return out;
}

void check_inplace_result(const Tensor& self, DType rt, const Shape& shape, const char* name) {
  RV_CHECK(can_cast(rt, self.dtype()), name, ": result type ", dtype_short_name(rt),
           " can't be cast to the desired output type ", dtype_short_name(self.dtype()));
  RV_CHECK(shape == self.sizes(), name, ": output with shape ", shape_str(self.sizes()),
           " doesn't match the broadcast shape ", shape_str(shape));
}

// In place into self (operand 1), no autograd; bumps the version.
Tensor& ternary_forward_(TernaryOp op, Tensor& self, const Tensor& y, const Tensor& z, DType rt,
                         const char* name, double alpha = 0) {
  check_same_device(name, {&self, &y, &z});
  check_inplace_result(self, rt, broadcast3(self, y, z, name), name);
  if (self.numel() > 0) {
    DType ct = compute_dtype(promote_types(rt, self.dtype()));
    if (kernel_takes(self.dtype(), ct, self.device())) {
      Tensor yc = kernel_operand(y, ct, self.device()), zc = kernel_operand(z, ct, self.device());
      if (overlaps_differently(self, yc)) yc = contiguous_clone(yc);
      if (overlaps_differently(self, zc)) zc = contiguous_clone(zc);
      LoopSpec s = make_loop(self, {&self, &yc, &zc});
      ternary_kernel.get(self.device(), name)(op, s, alpha);
    } else {
      Tensor r = ternary_forward(op, detach(self), y, z, rt, name, alpha);
      Tensor d = detach(self);
      LoopSpec s = make_loop(d, {&r});
      cast_kernel.get(self.device(), name)(s);
    }
  }
  self.bump_version();
  return self;
}

Tensor zeros_of(const Tensor& g) { return zeros_like(g); }

}  // namespace

// ---- where ----

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  RV_CHECK(cond.dtype() == DType::Bool || cond.dtype() == DType::UInt8,
           "where: expected condition to be a boolean tensor, but got a tensor with dtype ",
           dtype_short_name(cond.dtype()));
  DType rt = result_type({&a, &b});
  Tensor out = ternary_forward(TernaryOp::Where, cond, a, b, rt, "where");
  if (autograd::needs_grad({a, b})) {
    Shape sa = a.sizes(), sb = b.sizes();
    Tensor c = detach(cond);
    autograd::record("WhereBackward0", {Tensor(), a, b}, {&out}, {c}, {},
                     [sa, sb](BackwardContext& ctx) {
                       const Tensor& g = ctx.grad();
                       Tensor cv = ctx.saved(0);
                       Tensor z = zeros_of(g);
                       TensorList r(3);
                       if (ctx.needs(1)) r[1] = sum_to_size(where(cv, g, z), sa);
                       if (ctx.needs(2)) r[2] = sum_to_size(where(cv, z, g), sb);
                       return r;
                     });
  }
  return out;
}

// ---- lerp ----

namespace {
void check_lerp(const Tensor& start, const Tensor& end, const Tensor* weight, const char* name) {
  RV_CHECK_NOT_IMPLEMENTED(is_floating(start.dtype()), name, ": \"lerp\" not implemented for '",
                           dtype_short_name(start.dtype()), "'");
  RV_CHECK(end.dtype() == start.dtype(), name, ": expected dtype ", dtype_name(start.dtype()),
           " for `end` but got dtype ", dtype_name(end.dtype()));
  if (weight && weight->dim() > 0)
    RV_CHECK(weight->dtype() == start.dtype(), name, ": expected dtype ",
             dtype_name(start.dtype()), " for `weight` but got dtype ",
             dtype_name(weight->dtype()));
}
}  // namespace

Tensor lerp(const Tensor& start, const Tensor& end, const Tensor& weight) {
  check_lerp(start, end, &weight, "lerp");
  Tensor out = ternary_forward(TernaryOp::Lerp, start, end, weight, start.dtype(), "lerp");
  if (autograd::needs_grad({start, end, weight})) {
    Shape ss = start.sizes(), se = end.sizes(), sw = weight.sizes();
    bool nw = weight.requires_grad();
    autograd::record("LerpBackward1", {start, end, weight}, {&out},
                     {nw ? start : Tensor(), nw ? end : Tensor(), weight}, {},
                     [ss, se, sw](BackwardContext& c) {
                       const Tensor& g = c.grad();
                       Tensor w = c.saved(2);
                       TensorList r(3);
                       if (c.needs(0)) r[0] = sum_to_size(mul(g, rsub_one(w)), ss);
                       if (c.needs(1)) r[1] = sum_to_size(mul(g, w), se);
                       if (c.needs(2)) r[2] = sum_to_size(mul(g, sub(c.saved(1), c.saved(0))), sw);
                       return r;
                     });
  }
  return out;
}

Tensor lerp(const Tensor& start, const Tensor& end, const Scalar& weight) {
  check_lerp(start, end, nullptr, "lerp");
  Tensor w = scalar_tensor(weight, compute_dtype(start.dtype()), start.device(), true);
  Tensor out = ternary_forward(TernaryOp::Lerp, start, end, w, start.dtype(), "lerp");
  if (autograd::needs_grad({start, end})) {
    Shape ss = start.sizes(), se = end.sizes();
    double wv = weight.to_double();
    autograd::record("LerpBackward0", {start, end}, {&out}, {}, {},
                     [ss, se, wv](BackwardContext& c) {
                       const Tensor& g = c.grad();
                       TensorList r(2);
                       if (c.needs(0)) r[0] = sum_to_size(mul(g, Scalar(1.0 - wv)), ss);
                       if (c.needs(1)) r[1] = sum_to_size(mul(g, Scalar(wv)), se);
                       return r;
                     });
  }
  return out;
}

Tensor& lerp_(Tensor& self, const Tensor& end, const Tensor& weight) {
  check_lerp(self, end, &weight, "lerp_");
  if (autograd::inplace_needs_grad(self, {end, weight}, "lerp_")) {
    check_inplace_result(self, self.dtype(), broadcast3(self, end, weight, "lerp_"), "lerp_");
    return autograd::record_inplace(self, "lerp_",
                                    [&](const Tensor& s) { return lerp(s, end, weight); });
  }
  return ternary_forward_(TernaryOp::Lerp, self, end, weight, self.dtype(), "lerp_");
}

Tensor& lerp_(Tensor& self, const Tensor& end, const Scalar& weight) {
  check_lerp(self, end, nullptr, "lerp_");
  if (autograd::inplace_needs_grad(self, {end}, "lerp_")) {
    check_inplace_result(self, self.dtype(), broadcast3(self, end, self, "lerp_"), "lerp_");
    return autograd::record_inplace(self, "lerp_",
                                    [&](const Tensor& s) { return lerp(s, end, weight); });
  }
  Tensor w = scalar_tensor(weight, compute_dtype(self.dtype()), self.device(), true);
  return ternary_forward_(TernaryOp::Lerp, self, end, w, self.dtype(), "lerp_");
}

// ---- clamp ----

namespace {
Tensor bool_mask(const Tensor& m, const Tensor& like) { return to_dtype(m, like.dtype()); }

DType clamp_result_dtype(const Tensor& t, const std::optional<Scalar>& lo,
                         const std::optional<Scalar>& hi, const char* name) {
  RV_CHECK(lo.has_value() || hi.has_value(), name,
           ": At least one of 'min' or 'max' must not be None");
  Tensor wl = lo ? wrap_scalar(*lo, t) : Tensor();
  Tensor wh = hi ? wrap_scalar(*hi, t) : Tensor();
  DType rt = result_type({&t, &wl, &wh});
  RV_CHECK_NOT_IMPLEMENTED(rt != DType::Bool, name, ": \"clamp\" not implemented for 'Bool'");
  return rt;
}

UnaryArgs clamp_args(const std::optional<Scalar>& lo, const std::optional<Scalar>& hi) {
  UnaryArgs a;
  a.a = lo ? lo->to_double() : -std::numeric_limits<double>::infinity();
  a.b = hi ? hi->to_double() : std::numeric_limits<double>::infinity();
  return a;
}
}  // namespace

Tensor clamp(const Tensor& t, const std::optional<Scalar>& lo, const std::optional<Scalar>& hi) {
  DType rt = clamp_result_dtype(t, lo, hi, "clamp");
  Tensor in = as_dtype(t, rt);
  Tensor out = unary_forward(UnaryOp::Clamp, in, "clamp", clamp_args(lo, hi));
  if (autograd::needs_grad({t})) {
    autograd::record("ClampBackward1", {t}, {&out}, {t}, {}, [lo, hi](BackwardContext& c) {
      const Tensor& g = c.grad();
      Tensor x = detach(c.saved(0));
      Tensor keep;
      if (lo) keep = ge(x, wrap_scalar(*lo, x));
      if (hi) {
        Tensor k = le(x, wrap_scalar(*hi, x));
        keep = keep.defined() ? logical_and(keep, k) : k;
      }
      return TensorList{mul(g, bool_mask(keep, g))};
    });
  }
  return out;
}

Tensor clamp(const Tensor& t, const Tensor& lo, const Tensor& hi) {
  RV_CHECK(lo.defined() || hi.defined(), "clamp: At least one of 'min' or 'max' must not be None");
  DType rt = result_type({&t, &lo, &hi});
  Tensor out;
  {
    Tensor tc = as_dtype(t, rt);
    if (lo.defined() && hi.defined())
      out = ternary_forward(TernaryOp::Clamp, tc, lo, hi, rt, "clamp");
    else if (lo.defined())
      out = binary_forward(BinaryOp::Maximum, tc, as_dtype(lo, rt), "clamp");
    else
      out = binary_forward(BinaryOp::Minimum, tc, as_dtype(hi, rt), "clamp");
  }
  if (autograd::needs_grad({t, lo, hi})) {
    Shape st = t.sizes();
    Shape sl = lo.defined() ? lo.sizes() : Shape{}, sh = hi.defined() ? hi.sizes() : Shape{};
    bool has_lo = lo.defined(), has_hi = hi.defined();
    autograd::record(
        "ClampBackward0", {t, lo, hi}, {&out},
        {t, has_lo ? lo : Tensor(), has_hi ? hi : Tensor()}, {},
        [st, sl, sh, has_lo, has_hi](BackwardContext& c) {
          const Tensor& g = c.grad();
          Tensor x = detach(c.saved(0));
          Tensor l = has_lo ? detach(c.saved(1)) : Tensor();
          Tensor h = has_hi ? detach(c.saved(2)) : Tensor();
          TensorList r(3);
          if (c.needs(0)) {
            Tensor keep;
            if (has_lo) keep = ge(x, l);
            if (has_hi) keep = keep.defined() ? logical_and(keep, le(x, h)) : le(x, h);
            r[0] = sum_to_size(mul(g, bool_mask(keep, g)), st);
          }
          if (c.needs(1)) {
            Tensor m = lt(x, l);
            if (has_hi) m = logical_and(m, le(l, h));
            r[1] = sum_to_size(mul(g, bool_mask(m, g)), sl);
          }
          if (c.needs(2)) {
            Tensor m = gt(x, h);
            if (has_lo) m = logical_or(m, gt(l, h));
            r[2] = sum_to_size(mul(g, bool_mask(m, g)), sh);
          }
          return r;
        });
  }
  return out;
}

Tensor& clamp_(Tensor& t, const std::optional<Scalar>& lo, const std::optional<Scalar>& hi) {
  DType rt = clamp_result_dtype(t, lo, hi, "clamp_");
  RV_CHECK(can_cast(rt, t.dtype()), "clamp_: result type ", dtype_short_name(rt),
           " can't be cast to the desired output type ", dtype_short_name(t.dtype()));
  if (autograd::inplace_needs_grad(t, {}, "clamp_"))
    return autograd::record_inplace(t, "clamp_", [&](const Tensor& s) { return clamp(s, lo, hi); });
  return unary_forward_(UnaryOp::Clamp, t, "clamp_", clamp_args(lo, hi));
}

Tensor& clamp_(Tensor& t, const Tensor& lo, const Tensor& hi) {
  RV_CHECK(lo.defined() || hi.defined(), "clamp_: At least one of 'min' or 'max' must not be None");
  DType rt = result_type({&t, &lo, &hi});
  Shape shape = t.sizes();
  if (lo.defined()) shape = broadcast_shapes(shape, lo.sizes(), "clamp_");
  if (hi.defined()) shape = broadcast_shapes(shape, hi.sizes(), "clamp_");
  check_inplace_result(t, rt, shape, "clamp_");
  if (autograd::inplace_needs_grad(t, {lo, hi}, "clamp_"))
    return autograd::record_inplace(t, "clamp_", [&](const Tensor& s) { return clamp(s, lo, hi); });
  if (lo.defined() && hi.defined())
    return ternary_forward_(TernaryOp::Clamp, t, lo, hi, rt, "clamp_");
  return binary_forward_(lo.defined() ? BinaryOp::Maximum : BinaryOp::Minimum, t,
                         lo.defined() ? lo : hi, "clamp_");
}

// ---- addcmul, addcdiv ----

namespace {
void check_addc(TernaryOp op, DType rt, const Scalar& value, const char* name) {
  if (op == TernaryOp::Addcdiv)
    RV_CHECK(is_floating(rt), name, ": Integer division with addcdiv is no longer supported; "
             "use floating point tensors");
  RV_CHECK_NOT_IMPLEMENTED(rt != DType::Bool, name, ": \"", name, "\" not implemented for 'Bool'");
  RV_CHECK(!(value.is_floating() && !is_floating(rt)), name,
           ": For integral input tensors, argument value must not be a floating point number.");
}

Tensor addc(TernaryOp op, const Tensor& self, const Tensor& t1, const Tensor& t2,
            const Scalar& value, const char* name) {
  DType rt = result_type({&self, &t1, &t2});
  check_addc(op, rt, value, name);
  return ternary_forward(op, self, t1, t2, rt, name, value.to_double());
}
}  // namespace

Tensor addcmul(const Tensor& self, const Tensor& t1, const Tensor& t2, const Scalar& value) {
  Tensor out = addc(TernaryOp::Addcmul, self, t1, t2, value, "addcmul");
  if (autograd::needs_grad({self, t1, t2})) {
    Shape s0 = self.sizes(), s1 = t1.sizes(), s2 = t2.sizes();
    autograd::record("AddcmulBackward0", {self, t1, t2}, {&out}, {t1, t2}, {},
                     [s0, s1, s2, value](BackwardContext& c) {
                       const Tensor& g = c.grad();
                       TensorList r(3);
                       if (c.needs(0)) r[0] = sum_to_size(g, s0);
                       if (c.needs(1)) r[1] = sum_to_size(mul(mul(g, c.saved(1)), value), s1);
                       if (c.needs(2)) r[2] = sum_to_size(mul(mul(g, c.saved(0)), value), s2);
                       return r;
                     });
  }
  return out;
}

Tensor addcdiv(const Tensor& self, const Tensor& t1, const Tensor& t2, const Scalar& value) {
  Tensor out = addc(TernaryOp::Addcdiv, self, t1, t2, value, "addcdiv");
  if (autograd::needs_grad({self, t1, t2})) {
    Shape s0 = self.sizes(), s1 = t1.sizes(), s2 = t2.sizes();
    autograd::record("AddcdivBackward0", {self, t1, t2}, {&out}, {t1, t2}, {},
                     [s0, s1, s2, value](BackwardContext& c) {
                       const Tensor& g = c.grad();
                       Tensor a = c.saved(0), b = c.saved(1);
                       TensorList r(3);
                       if (c.needs(0)) r[0] = sum_to_size(g, s0);
                       if (c.needs(1)) r[1] = sum_to_size(mul(div(g, b), value), s1);
                       if (c.needs(2))
                         r[2] = sum_to_size(neg(mul(div(mul(g, a), mul(b, b)), value)), s2);
                       return r;
                     });
  }
  return out;
}

Tensor& addcmul_(Tensor& self, const Tensor& t1, const Tensor& t2, const Scalar& value) {
  if (autograd::inplace_needs_grad(self, {t1, t2}, "addcmul_")) {
    check_inplace_result(self, result_type({&self, &t1, &t2}), broadcast3(self, t1, t2, "addcmul_"),
                         "addcmul_");
    return autograd::record_inplace(self, "addcmul_",
                                    [&](const Tensor& s) { return addcmul(s, t1, t2, value); });
  }
  DType rt = result_type({&self, &t1, &t2});
  check_addc(TernaryOp::Addcmul, rt, value, "addcmul_");
  return ternary_forward_(TernaryOp::Addcmul, self, t1, t2, rt, "addcmul_", value.to_double());
}

Tensor& addcdiv_(Tensor& self, const Tensor& t1, const Tensor& t2, const Scalar& value) {
  if (autograd::inplace_needs_grad(self, {t1, t2}, "addcdiv_")) {
    check_inplace_result(self, result_type({&self, &t1, &t2}), broadcast3(self, t1, t2, "addcdiv_"),
                         "addcdiv_");
    return autograd::record_inplace(self, "addcdiv_",
                                    [&](const Tensor& s) { return addcdiv(s, t1, t2, value); });
  }
  DType rt = result_type({&self, &t1, &t2});
  check_addc(TernaryOp::Addcdiv, rt, value, "addcdiv_");
  return ternary_forward_(TernaryOp::Addcdiv, self, t1, t2, rt, "addcdiv_", value.to_double());
}

}  // namespace ranvier
