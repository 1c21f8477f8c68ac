// Binary elementwise ops (see binary.h). Flow: check devices, find the result dtype, convert
// inputs to the compute dtype (float32 for float16/bfloat16), broadcast, run the kernel slot,
// convert back, and record the backward.
#include "ops/binary.h"

#include "autograd/function.h"
#include "autograd/inplace.h"
#include "ops/copy.h"
#include "ops/factory.h"
#include "ops/iter.h"
#include "ops/reduce.h"
#include "ops/shape.h"

namespace ranvier {

using autograd::BackwardContext;
using autograd::TensorList;

KernelSlot<BinaryKernel> binary_kernel;

namespace {

DType compute_dtype(DType t) { return is_reduced_float(t) ? DType::Float32 : t; }

DType op_result_dtype(BinaryOp op, const Tensor& a, const Tensor& b) {
  DType r = result_type({&a, &b});
  if (op == BinaryOp::Div && !is_floating(r)) r = DType::Float32;
  return r;
}

void check_integer_division(BinaryOp op, DType compute, const Tensor& b, const char* name) {
  if ((op != BinaryOp::FloorDiv && op != BinaryOp::Remainder) || is_floating(compute)) return;
  Tensor zero = scalar_tensor(Scalar(int64_t(0)), b.dtype(), b.device());
  Tensor hits = binary_forward(BinaryOp::Eq, b, zero, name);
  bool any = false;
  Tensor hc = contiguous_clone(hits);
  const bool* p = hc.data<bool>();
  for (int64_t i = 0; i < hc.numel(); ++i) any = any || p[i];
  RV_CHECK(!any, name, ": ZeroDivisionError (integer division by zero)");
}

}  // namespace

Tensor wrap_scalar(const Scalar& s, const Tensor& t) {
  DType sd = s.default_dtype();
  DType td = t.dtype();
  DType r;
  int sc = dtype_category(sd), tc = dtype_category(td);
  r = sc > tc ? promote_types(td, sd) : td;
  if (sc > tc && is_floating(sd)) r = is_floating(td) ? td : DType::Float32;
  return scalar_tensor(s, r, t.device(), true);
}

Tensor binary_forward(BinaryOp op, const Tensor& a, const Tensor& b, const char* name) {
  check_same_device(name, {&a, &b});
  DType rt = op_result_dtype(op, a, b);
  DType ct = compute_dtype(rt);
  check_integer_division(op, ct, b, name);
  Shape shape = a.sizes() == b.sizes() ? a.sizes() : broadcast_shapes(a.sizes(), b.sizes(), name);
  Tensor ac = a.dtype() == ct ? a : to_dtype(detach(a), ct);
  Tensor bc = b.dtype() == ct ? b : to_dtype(detach(b), ct);
  bool cmp = binary_is_comparison(op);
  Device dev = a.dim() == 0 && a.device().is_cpu() ? b.device() : a.device();
  Tensor out = empty(shape, cmp ? DType::Bool : ct, dev);
  if (out.numel() > 0) {
    LoopSpec s = make_loop(out, {&ac, &bc});
    binary_kernel.get(dev, name)(op, s);
  }
  if (!cmp && ct != rt) out = to_dtype(out, rt);
  return out;
}

Tensor& binary_forward_(BinaryOp op, Tensor& self, const Tensor& other, const char* name) {
  check_same_device(name, {&self, &other});
  DType rt = op_result_dtype(op, self, other);
  RV_CHECK(can_cast(rt, self.dtype()), name, ": result type ", dtype_short_name(rt),
           " can't be cast to the desired output type ", dtype_short_name(self.dtype()));
  Shape shape = broadcast_shapes(self.sizes(), other.sizes(), name);
  RV_CHECK(shape == self.sizes(), name, ": output with shape ", shape_str(self.sizes()),
           " doesn't match the broadcast shape ", shape_str(shape));
  DType ct = compute_dtype(promote_types(rt, self.dtype()));
  check_integer_division(op, ct, other, name);
  if (self.numel() == 0) return self;
  if (ct == self.dtype()) {
    Tensor oc = other.dtype() == ct ? other : to_dtype(detach(other), ct);
    if (overlaps_differently(self, oc)) oc = contiguous_clone(oc);
    LoopSpec s = make_loop(self, {&self, &oc});
    binary_kernel.get(self.device(), name)(op, s);
  } else {
    Tensor r = binary_forward(op, detach(self), detach(other), name);
    Tensor d = detach(self);
    LoopSpec s = make_loop(d, {&r});
    cast_kernel.get(self.device(), name)(s);
  }
  self.bump_version();
  return self;
}

void add_raw_(const Tensor& dst, const Tensor& src) {
  Tensor d = dst;
  autograd::NoGradGuard ng;
  Tensor s = src.dtype() == dst.dtype() ? src : to_dtype(src, dst.dtype());
  LoopSpec spec = make_loop(d, {&d, &s});
  binary_kernel.get(dst.device(), "add_")(BinaryOp::Add, spec);
}

Tensor sum_to_size(const Tensor& g, const Shape& shape) {
  if (g.sizes() == shape) return g;
  int64_t lead = g.dim() - int64_t(shape.size());
  RV_INTERNAL_ASSERT(lead >= 0, "sum_to_size: ", shape_str(g.sizes()), " -> ", shape_str(shape));
  std::vector<int64_t> dims;
  for (int64_t i = 0; i < g.dim(); ++i) {
    if (i < lead) dims.push_back(i);
    else if (shape[i - lead] == 1 && g.sizes()[i] != 1) dims.push_back(i);
  }
  Tensor r = dims.empty() ? g : sum(g, dims, true);
  if (lead > 0 || r.sizes() != shape) r = reshape(r, shape);
  return r;
}

// ---- arithmetic with autograd ----

Tensor add(const Tensor& a, const Tensor& b, const Scalar& alpha) {
  bool scaled = !(alpha.is_integral() && alpha.to_int() == 1);
  Tensor bb = scaled ? binary_forward(BinaryOp::Mul, detach(b), wrap_scalar(alpha, b), "add") : b;
  Tensor out = binary_forward(BinaryOp::Add, a, bb, "add");
  if (autograd::needs_grad({a, b})) {
    Shape sa = a.sizes(), sb = b.sizes();
    autograd::record("AddBackward0", {a, b}, {&out}, {}, {},
                     [sa, sb, alpha, scaled](BackwardContext& c) {
                       const Tensor& g = c.grad();
                       TensorList r(2);
                       if (c.needs(0)) r[0] = sum_to_size(g, sa);
                       if (c.needs(1)) r[1] = sum_to_size(scaled ? mul(g, alpha) : g, sb);
                       return r;
                     });
  }
  return out;
}

Tensor add(const Tensor& a, const Scalar& b, const Scalar& alpha) {
  bool scaled = !(alpha.is_integral() && alpha.to_int() == 1);
  Scalar v = scaled ? Scalar(b.to_double() * alpha.to_double()) : b;
  if (scaled && b.is_integral() && alpha.is_integral()) v = Scalar(b.to_int() * alpha.to_int());
  return add(a, wrap_scalar(v, a));
}

Tensor sub(const Tensor& a, const Tensor& b, const Scalar& alpha) {
  RV_CHECK(a.dtype() != DType::Bool || b.dtype() != DType::Bool,
           "sub: subtraction, the `-` operator, with two bool tensors is not supported. Use the "
           "`^` or `logical_xor()` operator instead.");
  Scalar neg = alpha.is_floating() ? Scalar(-alpha.to_double()) : Scalar(-alpha.to_int());
  return add(a, b, neg);
}

Tensor sub(const Tensor& a, const Scalar& b, const Scalar& alpha) {
  Scalar nb = b.is_floating() ? Scalar(-b.to_double()) : Scalar(-b.to_int());
  return add(a, nb, alpha);
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward(BinaryOp::Mul, a, b, "mul");
  if (autograd::needs_grad({a, b})) {
    Shape sa = a.sizes(), sb = b.sizes();
    bool na = a.requires_grad(), nb = b.requires_grad();
    autograd::record("MulBackward0", {a, b}, {&out}, {nb ? a : Tensor(), na ? b : Tensor()}, {},
                     [sa, sb](BackwardContext& c) {
                       const Tensor& g = c.grad();
                       TensorList r(2);
                       if (c.needs(0)) r[0] = sum_to_size(mul(g, c.saved(1)), sa);
                       if (c.needs(1)) r[1] = sum_to_size(mul(g, c.saved(0)), sb);
                       return r;
                     });
  }
  return out;
}

Tensor mul(const Tensor& a, const Scalar& b) { return mul(a, wrap_scalar(b, a)); }

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward(BinaryOp::Div, a, b, "div");
  if (autograd::needs_grad({a, b})) {
    Shape sa = a.sizes(), sb = b.sizes();
    bool nb = b.requires_grad();
    autograd::record("DivBackward0", {a, b}, {&out}, {nb ? a : Tensor(), b}, {},
                     [sa, sb](BackwardContext& c) {
                       const Tensor& g = c.grad();
                       Tensor bv = c.saved(1);
                       TensorList r(2);
                       if (c.needs(0)) r[0] = sum_to_size(div(g, bv), sa);
                       if (c.needs(1)) {
                         Tensor av = c.saved(0);
                         r[1] = sum_to_size(div(mul(mul(g, av), Scalar(-1.0)), mul(bv, bv)), sb);
                       }
                       return r;
                     });
  }
  return out;
}

Tensor div(const Tensor& a, const Scalar& b) { return div(a, wrap_scalar(b, a)); }

// ---- in-place ----

Tensor& add_(Tensor& self, const Tensor& other, const Scalar& alpha) {
  if (autograd::inplace_needs_grad(self, {other}, "add_"))
    return autograd::record_inplace(self, "add_",
                                    [&](const Tensor& s) { return add(s, other, alpha); });
  bool scaled = !(alpha.is_integral() && alpha.to_int() == 1);
  Tensor o = scaled ? binary_forward(BinaryOp::Mul, other, wrap_scalar(alpha, other), "add_") : other;
  return binary_forward_(BinaryOp::Add, self, o, "add_");
}

Tensor& add_(Tensor& self, const Scalar& other, const Scalar& alpha) {
  Scalar v = alpha.is_integral() && alpha.to_int() == 1 ? other
                                                        : Scalar(other.to_double() * alpha.to_double());
  return add_(self, wrap_scalar(v, self));
}

Tensor& sub_(Tensor& self, const Tensor& other, const Scalar& alpha) {
  Scalar neg = alpha.is_floating() ? Scalar(-alpha.to_double()) : Scalar(-alpha.to_int());
  return add_(self, other, neg);
}

Tensor& mul_(Tensor& self, const Tensor& other) {
  if (autograd::inplace_needs_grad(self, {other}, "mul_"))
    return autograd::record_inplace(self, "mul_", [&](const Tensor& s) { return mul(s, other); });
  return binary_forward_(BinaryOp::Mul, self, other, "mul_");
}

Tensor& mul_(Tensor& self, const Scalar& other) { return mul_(self, wrap_scalar(other, self)); }

Tensor& div_(Tensor& self, const Tensor& other) {
  if (autograd::inplace_needs_grad(self, {other}, "div_"))
    return autograd::record_inplace(self, "div_", [&](const Tensor& s) { return div(s, other); });
  return binary_forward_(BinaryOp::Div, self, other, "div_");
}

// ---- comparisons ----

Tensor eq(const Tensor& a, const Tensor& b) { return binary_forward(BinaryOp::Eq, a, b, "eq"); }
Tensor ne(const Tensor& a, const Tensor& b) { return binary_forward(BinaryOp::Ne, a, b, "ne"); }
Tensor lt(const Tensor& a, const Tensor& b) { return binary_forward(BinaryOp::Lt, a, b, "lt"); }
Tensor le(const Tensor& a, const Tensor& b) { return binary_forward(BinaryOp::Le, a, b, "le"); }
Tensor gt(const Tensor& a, const Tensor& b) { return binary_forward(BinaryOp::Gt, a, b, "gt"); }
Tensor ge(const Tensor& a, const Tensor& b) { return binary_forward(BinaryOp::Ge, a, b, "ge"); }

}  // namespace ranvier
