// Binary elementwise ops (see binary.h). Flow: check devices and dtypes, find the result
// dtype, convert inputs to the compute dtype (float32 for float16/bfloat16), broadcast, run the
// kernel slot, convert back, and record the backward (written with ops, so it is
// differentiable again).
#include "ops/binary.h"

#include <cstring>

#include "autograd/function.h"
#include "autograd/inplace.h"
#include "ops/copy.h"
#include "ops/factory.h"
#include "ops/iter.h"
#include "ops/reduce.h"
#include "ops/shape.h"
#include "ops/ternary.h"
#include "ops/unary.h"

namespace ranvier {

using autograd::BackwardContext;
using autograd::TensorList;

KernelSlot<BinaryKernel> binary_kernel{"binary"};

namespace {

DType compute_dtype(DType t) { return is_reduced_float(t) ? DType::Float32 : t; }

const char* kernel_name(BinaryOp op) {
  switch (op) {
    case BinaryOp::TruncDiv: return "div_trunc";
    case BinaryOp::FloorDiv: return "div_floor";
    case BinaryOp::Remainder: return "remainder";
    case BinaryOp::Fmod: return "fmod";
    case BinaryOp::Pow: return "pow";
    case BinaryOp::BitAnd: return "bitwise_and";
    case BinaryOp::BitOr: return "bitwise_or";
    case BinaryOp::BitXor: return "bitwise_xor";
    default: return "binary op";
  }
}

DType op_result_dtype(BinaryOp op, const Tensor& a, const Tensor& b) {
  DType r = result_type({&a, &b});
  if ((op == BinaryOp::Div || op == BinaryOp::Atan2) && !is_floating(r)) r = DType::Float32;
  return r;
}

// NotImplementedError for the dtypes an op has no kernel for (PyTorch's wording).
void check_op_dtype(BinaryOp op, DType rt, const char* name) {
  bool bad = false;
  switch (op) {
    case BinaryOp::TruncDiv:
    case BinaryOp::FloorDiv:
    case BinaryOp::Remainder:
    case BinaryOp::Fmod:
    case BinaryOp::Pow: bad = rt == DType::Bool; break;
    case BinaryOp::BitAnd:
    case BinaryOp::BitOr:
    case BinaryOp::BitXor: bad = is_floating(rt); break;
    default: break;
  }
  RV_CHECK_NOT_IMPLEMENTED(!bad, name, ": \"", kernel_name(op), "\" not implemented for '",
                           dtype_short_name(rt), "'");
}

template <typename T>
bool any_zero(const Tensor& c) {
  const T* p = c.data<T>();
  for (int64_t i = 0, n = c.numel(); i < n; ++i)
    if (p[i] == T(0)) return true;
  return false;
}

// Integer division by zero raises (PyTorch's "ZeroDivisionError" RuntimeError).
void check_integer_division(BinaryOp op, DType compute, const Tensor& b, const char* name) {
  if (op != BinaryOp::FloorDiv && op != BinaryOp::Remainder && op != BinaryOp::TruncDiv &&
      op != BinaryOp::Fmod)
    return;
  if (is_floating(compute) || b.numel() == 0) return;
  if (!b.device().is_cpu()) return;  // device kernels give 0 for x / 0
  Tensor c = b.is_contiguous() ? b : contiguous_clone(b);
  bool hit = RV_DISPATCH_COMPUTE(c.dtype(), name, [&] { return any_zero<scalar_t>(c); });
  RV_CHECK(!hit, name, ": ZeroDivisionError (integer division by zero)");
}

Tensor as_float_mask(const Tensor& m, const Tensor& like) { return to_dtype(m, like.dtype()); }

Scalar negate(const Scalar& s) {
  return s.is_floating() ? Scalar(-s.to_double()) : Scalar(-s.to_int());
}

bool is_one(const Scalar& s) { return !s.is_floating() && s.to_int() == 1; }

void check_sub_bool(bool ab, bool bb) {
  RV_CHECK(!(ab && bb),
           "sub: Subtraction, the `-` operator, with two bool tensors is not supported. Use the "
           "`^` or `logical_xor()` operator instead.");
  RV_CHECK(!(ab || bb),
           "sub: Subtraction, the `-` operator, with a bool tensor is not supported. If you are "
           "trying to invert a mask, use the `~` or `logical_not()` operator instead.");
}

// The dtype of op(t, number): the number counts only when its category is higher (a float
// number against an integer or bool tensor gives the default float32).
DType scalar_result_dtype(BinaryOp op, DType td, const Scalar& v) {
  DType sd = v.default_dtype();
  DType r = td;
  if (dtype_category(sd) > dtype_category(td))
    r = is_floating(sd) ? DType::Float32 : promote_types(td, sd);
  if ((op == BinaryOp::Div || op == BinaryOp::Atan2) && !is_floating(r)) r = DType::Float32;
  return r;
}

// A number converted to T the way a wrapped 0-d tensor of dtype T holds it.
template <typename T>
T scalar_as(const Scalar& v) {
  if constexpr (std::is_floating_point_v<T>) return T(v.to_double());
  else if constexpr (std::is_same_v<T, bool>) return v.to_bool();
  else return v.is_floating() ? T(v.to_double()) : T(v.to_int());
}

bool divides_integers(BinaryOp op) {
  return op == BinaryOp::FloorDiv || op == BinaryOp::Remainder || op == BinaryOp::TruncDiv ||
         op == BinaryOp::Fmod;
}

// op(a, number) on the CPU without autograd: the number goes to the kernel as a stride-0
// operand read from the stack, so the output is the only allocation.
Tensor binary_forward_scalar(BinaryOp op, const Tensor& a, const Scalar& v, const char* name) {
  DType rt = scalar_result_dtype(op, a.dtype(), v);
  check_op_dtype(op, rt, name);
  DType ct = compute_dtype(rt);
  uint64_t buf = 0;
  bool zero = false;
  RV_DISPATCH_COMPUTE(ct, name, [&] {
    scalar_t x = scalar_as<scalar_t>(v);
    std::memcpy(&buf, &x, sizeof(x));
    zero = x == scalar_t(0);
  });
  RV_CHECK(!(zero && divides_integers(op) && !is_floating(ct)), name,
           ": ZeroDivisionError (integer division by zero)");
  Tensor ac = a.dtype() == ct ? a : to_dtype(detach(a), ct);
  bool to_bool = binary_bool_output(op);
  Tensor out = empty(a.sizes(), to_bool ? DType::Bool : ct, a.device());
  if (out.numel() > 0) {
    LoopSpec s = make_loop(out, {&ac});
    s.nops = 3;
    s.data[2] = reinterpret_cast<char*>(&buf);
    s.dtypes[2] = ct;
    for (int d = 0; d < s.ndim; ++d) s.strides[2][d] = 0;
    binary_kernel.get(a.device(), name)(op, s);
  }
  if (!to_bool && ct != rt) out = to_dtype(out, rt);
  return out;
}

// Whether op(a, number) may take binary_forward_scalar.
bool scalar_fast_path(const Tensor& a) {
  return a.device().is_cpu() && !autograd::needs_grad({a});
}

}  // namespace

RoundingMode parse_rounding_mode(const char* mode, const char* op) {
  if (mode == nullptr || mode[0] == '\0') return RoundingMode::None;
  if (std::strcmp(mode, "trunc") == 0) return RoundingMode::Trunc;
  if (std::strcmp(mode, "floor") == 0) return RoundingMode::Floor;
  throw_error(ErrorKind::Runtime,
              str_cat(op, " expected rounding_mode to be one of None, 'trunc', or 'floor' but "
                          "found '",
                      mode, "'"));
}

Tensor wrap_scalar(const Scalar& s, const Tensor& t) {
  DType sd = s.default_dtype();
  DType td = t.dtype();
  DType r;
  int sc = dtype_category(sd), tc = dtype_category(td);
  r = sc > tc ? promote_types(td, sd) : td;
  if (sc > tc && is_floating(sd)) r = is_floating(td) ? td : DType::Float32;
  if (is_reduced_float(r)) r = DType::Float32;  // the number keeps float32 precision
  return scalar_tensor(s, r, t.device(), true);
}

// The common case of two contiguous tensors of one shape and one natively computed dtype on one
// device: no promotion, broadcasting or dim coalescing to work out (a flat loop).
static bool same_layout_fast(const Tensor& a, const Tensor& b) {
  DType d = a.dtype();
  return d == b.dtype() &&
         (d == DType::Float32 || d == DType::Float64 || d == DType::Int64 ||
          (is_reduced_float(d) && converts_16bit(a.device()))) &&
         a.is_contiguous() && b.is_contiguous() && a.device() == b.device() &&
         a.sizes() == b.sizes();
}

Tensor binary_forward(BinaryOp op, const Tensor& a, const Tensor& b, const char* name) {
  // Ops whose result dtype is the input dtype for every dtype taken here.
  bool plain_op = op == BinaryOp::Add || op == BinaryOp::Sub || op == BinaryOp::Mul ||
                  op == BinaryOp::ReluGrad ||
                  (op == BinaryOp::Div && is_floating(a.dtype()));
  if (plain_op && same_layout_fast(a, b)) {
    check_op_dtype(op, a.dtype(), name);
    Tensor out = empty_contiguous_like(a);
    if (out.numel() > 0) {
      // Only the fields set below change; the rest stay zero from the first use (zeroing a
      // fresh LoopSpec, 700 bytes, took a twentieth of a one-element add)
      thread_local LoopSpec s;
      s.ndim = 1;
      s.nops = 3;
      s.numel = out.numel();
      s.sizes[0] = s.numel;
      s.data[0] = static_cast<char*>(out.data_ptr());
      s.data[1] = static_cast<char*>(a.data_ptr());
      s.data[2] = static_cast<char*>(b.data_ptr());
      for (int k = 0; k < 3; ++k) {
        s.strides[k][0] = 1;
        s.dtypes[k] = a.dtype();
      }
      binary_kernel.get(a.device(), name)(op, s);
    }
    return out;
  }
  check_same_device(name, {&a, &b});
  DType rt = op_result_dtype(op, a, b);
  check_op_dtype(op, rt, name);
  DType ct = compute_dtype(rt);
  check_integer_division(op, ct, b, name);
  Shape shape = a.sizes() == b.sizes() ? a.sizes() : broadcast_shapes(a.sizes(), b.sizes(), name);
  bool to_bool = binary_bool_output(op);
  Device dev = a.dim() == 0 && a.device().is_cpu() ? b.device() : a.device();
  Tensor ac = kernel_operand(a, ct, dev), bc = kernel_operand(b, ct, dev);
  Tensor out = empty(shape, to_bool ? DType::Bool : kernel_output_dtype(rt, ct, dev), dev);
  if (out.numel() > 0) {
    LoopSpec s = make_loop(out, {&ac, &bc});
    binary_kernel.get(dev, name)(op, s);
  }
  if (out.dtype() != rt && !to_bool) out = to_dtype(out, rt);
  return out;
}

void check_inplace_binary(BinaryOp op, const Tensor& self, const Tensor& other, const char* name) {
  check_same_device(name, {&self, &other});
  DType rt = binary_bool_output(op) ? DType::Bool : op_result_dtype(op, self, other);
  RV_CHECK(can_cast(rt, self.dtype()), name, ": result type ", dtype_short_name(rt),
           " can't be cast to the desired output type ", dtype_short_name(self.dtype()));
  if (other.sizes() == self.sizes()) return;
  Shape shape = broadcast_shapes(self.sizes(), other.sizes(), name);
  RV_CHECK(shape == self.sizes(), name, ": output with shape ", shape_str(self.sizes()),
           " doesn't match the broadcast shape ", shape_str(shape));
}

Tensor& binary_forward_(BinaryOp op, Tensor& self, const Tensor& other, const char* name) {
  check_inplace_binary(op, self, other, name);
  DType rt = op_result_dtype(op, self, other);
  check_op_dtype(op, rt, name);
  DType ct = compute_dtype(promote_types(rt, self.dtype()));
  check_integer_division(op, ct, other, name);
  if (self.numel() == 0) return self;
  if (kernel_takes(self.dtype(), ct, self.device()) && !binary_bool_output(op)) {
    Tensor oc = kernel_operand(other, ct, self.device());
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

// ---- add, sub, mul, div ----

namespace {
// b * alpha computed in the dtype of a (op) b, so that no narrower dtype wraps (uint8 * -1).
Tensor scaled_operand(const Tensor& a, const Tensor& b, const Scalar& alpha, const char* name) {
  DType rt = result_type({&a, &b});
  RV_CHECK(!(alpha.is_floating() && !is_floating(rt)), name,
           ": For integral input tensors, argument alpha must not be a floating point number.");
  Tensor bc = b.dtype() == rt ? detach(b) : to_dtype(detach(b), rt);
  return binary_forward(BinaryOp::Mul, bc, wrap_scalar(alpha, bc), name);
}

// a + alpha * b (Add) or a - alpha * b (Sub).
Tensor add_sub(BinaryOp op, const Tensor& a, const Tensor& b, const Scalar& alpha,
               const char* name) {
  bool scaled = !is_one(alpha);
  Tensor out = binary_forward(op, a, scaled ? scaled_operand(a, b, alpha, name) : b, name);
  if (autograd::needs_grad({a, b})) {
    Shape sa = a.sizes(), sb = b.sizes();
    Scalar k = op == BinaryOp::Sub ? negate(alpha) : alpha;  // d out / d b
    bool plain = is_one(k);
    autograd::record(op == BinaryOp::Sub ? "SubBackward0" : "AddBackward0", {a, b}, {&out}, {}, {},
                     [sa, sb, k, plain](BackwardContext& c) {
                       const Tensor& g = c.grad();
                       TensorList r(2);
                       if (c.needs(0)) r[0] = sum_to_size(g, sa);
                       if (c.needs(1)) r[1] = sum_to_size(plain ? g : mul(g, k), sb);
                       return r;
                     });
  }
  return out;
}
}  // namespace

Tensor add(const Tensor& a, const Tensor& b, const Scalar& alpha) {
  return add_sub(BinaryOp::Add, a, b, alpha, "add");
}

Tensor add(const Tensor& a, const Scalar& b, const Scalar& alpha) {
  if (is_one(alpha) && scalar_fast_path(a)) return binary_forward_scalar(BinaryOp::Add, a, b, "add");
  return add(a, wrap_scalar(b, a), alpha);
}

Tensor sub(const Tensor& a, const Tensor& b, const Scalar& alpha) {
  check_sub_bool(a.dtype() == DType::Bool, b.dtype() == DType::Bool);
  return add_sub(BinaryOp::Sub, a, b, alpha, "sub");
}

Tensor sub(const Tensor& a, const Scalar& b, const Scalar& alpha) {
  check_sub_bool(a.dtype() == DType::Bool, b.is_bool());
  if (is_one(alpha) && scalar_fast_path(a)) return binary_forward_scalar(BinaryOp::Sub, a, b, "sub");
  return sub(a, wrap_scalar(b, a), alpha);
}

Tensor rsub(const Tensor& t, const Scalar& s) {
  check_sub_bool(s.is_bool(), t.dtype() == DType::Bool);
  return sub(wrap_scalar(s, t), t);
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

Tensor mul(const Tensor& a, const Scalar& b) {
  if (scalar_fast_path(a)) return binary_forward_scalar(BinaryOp::Mul, a, b, "mul");
  return mul(a, wrap_scalar(b, a));
}

Tensor div(const Tensor& a, const Tensor& b, RoundingMode mode) {
  if (mode != RoundingMode::None) {
    BinaryOp op = mode == RoundingMode::Trunc ? BinaryOp::TruncDiv : BinaryOp::FloorDiv;
    Tensor out = binary_forward(op, a, b, "div");
    if (autograd::needs_grad({a, b})) {
      // rounded quotients are piecewise constant: zero gradient, like PyTorch
      Shape sa = a.sizes(), sb = b.sizes();
      DType da = a.dtype(), db = b.dtype();
      autograd::record("DivBackward1", {a, b}, {&out}, {}, {},
                       [sa, sb, da, db](BackwardContext& c) {
                         const Tensor& g = c.grad();
                         TensorList r(2);
                         if (c.needs(0)) r[0] = zeros(sa, da, g.device());
                         if (c.needs(1)) r[1] = zeros(sb, db, g.device());
                         return r;
                       });
    }
    return out;
  }
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
                         r[1] = sum_to_size(neg(div(mul(g, av), mul(bv, bv))), sb);
                       }
                       return r;
                     });
  }
  return out;
}

Tensor div(const Tensor& a, const Scalar& b, RoundingMode mode) {
  if (scalar_fast_path(a)) {
    BinaryOp op = mode == RoundingMode::None    ? BinaryOp::Div
                  : mode == RoundingMode::Trunc ? BinaryOp::TruncDiv
                                                : BinaryOp::FloorDiv;
    return binary_forward_scalar(op, a, b, "div");
  }
  if (mode == RoundingMode::None && !is_floating(a.dtype()))  // true division: keep b's value
    return div(a, scalar_tensor(b, DType::Float32, a.device(), true), mode);
  return div(a, wrap_scalar(b, a), mode);
}

Tensor rdiv(const Tensor& t, const Scalar& s) {
  // true division computes in float: the number keeps its value (no cast to t's dtype first)
  DType d = is_floating(t.dtype()) ? t.dtype() : DType::Float32;
  if (is_reduced_float(d)) d = DType::Float32;
  return div(scalar_tensor(s, d, t.device(), true), t);
}

Tensor floor_divide(const Tensor& a, const Tensor& b) {
  return div(a, b, RoundingMode::Floor);
}

// ---- remainder, fmod ----

namespace {
Tensor modulo(BinaryOp op, const Tensor& a, const Tensor& b, const char* name, const char* node,
              RoundingMode mode) {
  Tensor out = binary_forward(op, a, b, name);
  if (autograd::needs_grad({a, b})) {
    Shape sa = a.sizes(), sb = b.sizes();
    bool nb = b.requires_grad();
    autograd::record(node, {a, b}, {&out}, {nb ? a : Tensor(), nb ? b : Tensor()}, {},
                     [sa, sb, mode](BackwardContext& c) {
                       const Tensor& g = c.grad();
                       TensorList r(2);
                       if (c.needs(0)) r[0] = sum_to_size(g, sa);
                       if (c.needs(1)) {
                         Tensor q = div(detach(c.saved(0)), detach(c.saved(1)), mode);
                         r[1] = sum_to_size(neg(mul(g, q)), sb);
                       }
                       return r;
                     });
  }
  return out;
}
}  // namespace

Tensor remainder(const Tensor& a, const Tensor& b) {
  return modulo(BinaryOp::Remainder, a, b, "remainder", "RemainderBackward0", RoundingMode::Floor);
}

Tensor fmod(const Tensor& a, const Tensor& b) {
  return modulo(BinaryOp::Fmod, a, b, "fmod", "FmodBackward0", RoundingMode::Trunc);
}

// ---- pow ----

namespace {
// d/d exponent of base^exponent: out * log(base), and 0 where base == 0 and exponent >= 0.
Tensor pow_exponent_grad(const Tensor& g, const Tensor& base, const Tensor& exponent,
                         const Tensor& out) {
  Tensor gx = mul(g, mul(out, log(base)));
  Tensor zero_base = logical_and(eq(base, zeros_like(base)), ge(exponent, zeros_like(exponent)));
  return where(zero_base, zeros_like(gx), gx);
}
}  // namespace

Tensor pow(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward(BinaryOp::Pow, a, b, "pow");
  if (autograd::needs_grad({a, b})) {
    Shape sa = a.sizes(), sb = b.sizes();
    autograd::record("PowBackward1", {a, b}, {&out}, {a, b}, {&out},
                     [sa, sb](BackwardContext& c) {
                       const Tensor& g = c.grad();
                       Tensor av = c.saved(0), bv = c.saved(1);
                       TensorList r(2);
                       if (c.needs(0)) {
                         Tensor ga = mul(mul(g, bv), pow(av, sub(bv, Scalar(int64_t(1)))));
                         ga = where(eq(bv, zeros_like(bv)), zeros_like(ga), ga);
                         r[0] = sum_to_size(ga, sa);
                       }
                       if (c.needs(1)) r[1] = sum_to_size(pow_exponent_grad(g, av, bv, c.saved(2)), sb);
                       return r;
                     });
  }
  return out;
}

Tensor pow(const Tensor& a, const Scalar& e) {
  Tensor w = wrap_scalar(e, a);
  DType rt = result_type({&a, &w});
  if (rt == DType::Bool) return e.to_bool() ? clone(detach(a)) : ones_like(a);  // x**True, x**False
  check_op_dtype(BinaryOp::Pow, rt, "pow");
  RV_CHECK(is_floating(rt) || e.is_floating() || e.to_int() >= 0,
           "pow: Integers to negative integer powers are not allowed.");
  UnaryArgs args;
  args.a = e.to_double();
  Tensor in = a.dtype() == rt ? a : to_dtype(detach(a), rt);
  Tensor out = unary_forward(UnaryOp::PowScalar, in, "pow", args);
  if (autograd::needs_grad({a})) {
    autograd::record("PowBackward0", {a}, {&out}, {a}, {}, [e](BackwardContext& c) {
      const Tensor& g = c.grad();
      if (e.to_double() == 0.0) return TensorList{zeros_like(g)};
      Scalar em1 = e.is_floating() ? Scalar(e.to_double() - 1.0) : Scalar(e.to_int() - 1);
      return TensorList{mul(mul(g, pow(c.saved(0), em1)), e)};
    });
  }
  return out;
}

Tensor pow(const Scalar& base, const Tensor& exponent) {
  return pow(wrap_scalar(base, exponent), exponent);
}

// ---- minimum, maximum, atan2 ----

namespace {
Tensor min_max(BinaryOp op, const Tensor& a, const Tensor& b, const char* name, const char* node) {
  Tensor out = binary_forward(op, a, b, name);
  if (autograd::needs_grad({a, b})) {
    Shape sa = a.sizes(), sb = b.sizes();
    bool is_max = op == BinaryOp::Maximum;
    autograd::record(node, {a, b}, {&out}, {a, b}, {}, [sa, sb, is_max](BackwardContext& c) {
      const Tensor& g = c.grad();
      Tensor av = detach(c.saved(0)), bv = detach(c.saved(1));
      // ties share the gradient equally
      Tensor half = mul(as_float_mask(eq(av, bv), g), Scalar(0.5));
      TensorList r(2);
      if (c.needs(0)) {
        Tensor m = as_float_mask(is_max ? gt(av, bv) : lt(av, bv), g);
        r[0] = sum_to_size(mul(g, add(m, half)), sa);
      }
      if (c.needs(1)) {
        Tensor m = as_float_mask(is_max ? lt(av, bv) : gt(av, bv), g);
        r[1] = sum_to_size(mul(g, add(m, half)), sb);
      }
      return r;
    });
  }
  return out;
}
}  // namespace

Tensor minimum(const Tensor& a, const Tensor& b) {
  return min_max(BinaryOp::Minimum, a, b, "minimum", "MinimumBackward0");
}

Tensor maximum(const Tensor& a, const Tensor& b) {
  return min_max(BinaryOp::Maximum, a, b, "maximum", "MaximumBackward0");
}

Tensor atan2(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward(BinaryOp::Atan2, a, b, "atan2");
  if (autograd::needs_grad({a, b})) {
    Shape sa = a.sizes(), sb = b.sizes();
    autograd::record("Atan2Backward0", {a, b}, {&out}, {a, b}, {}, [sa, sb](BackwardContext& c) {
      const Tensor& g = c.grad();
      Tensor av = c.saved(0), bv = c.saved(1);
      Tensor scale = div(g, add(mul(av, av), mul(bv, bv)));
      TensorList r(2);
      if (c.needs(0)) r[0] = sum_to_size(mul(scale, bv), sa);
      if (c.needs(1)) r[1] = sum_to_size(neg(mul(scale, av)), sb);
      return r;
    });
  }
  return out;
}

// ---- in-place ----

namespace {
// The in-place recipe: under autograd, the out-of-place op on a snapshot of self; otherwise
// the raw kernel into self.
template <typename F>
Tensor& inplace(Tensor& self, const Tensor& other, BinaryOp op, const char* name, F&& fn) {
  if (autograd::inplace_needs_grad(self, {other}, name)) {
    check_inplace_binary(op, self, other, name);
    return autograd::record_inplace(self, name, [&](const Tensor& s) { return fn(s, other); });
  }
  return binary_forward_(op, self, other, name);
}
}  // namespace

namespace {
Tensor& add_sub_(BinaryOp op, Tensor& self, const Tensor& other, const Scalar& alpha,
                 const char* name) {
  if (autograd::inplace_needs_grad(self, {other}, name)) {
    check_inplace_binary(op, self, other, name);
    return autograd::record_inplace(self, name, [&](const Tensor& s) {
      return add_sub(op, s, other, alpha, name);
    });
  }
  if (is_one(alpha)) return binary_forward_(op, self, other, name);
  check_inplace_binary(op, self, other, name);
  return binary_forward_(op, self, scaled_operand(self, other, alpha, name), name);
}
}  // namespace

Tensor& add_(Tensor& self, const Tensor& other, const Scalar& alpha) {
  return add_sub_(BinaryOp::Add, self, other, alpha, "add_");
}

Tensor& add_(Tensor& self, const Scalar& other, const Scalar& alpha) {
  return add_(self, wrap_scalar(other, self), alpha);
}

Tensor& sub_(Tensor& self, const Tensor& other, const Scalar& alpha) {
  check_sub_bool(self.dtype() == DType::Bool, other.dtype() == DType::Bool);
  return add_sub_(BinaryOp::Sub, self, other, alpha, "sub_");
}

Tensor& sub_(Tensor& self, const Scalar& other, const Scalar& alpha) {
  check_sub_bool(self.dtype() == DType::Bool, other.is_bool());
  return sub_(self, wrap_scalar(other, self), alpha);
}

Tensor& mul_(Tensor& self, const Tensor& other) {
  return inplace(self, other, BinaryOp::Mul, "mul_",
                 [](const Tensor& s, const Tensor& o) { return mul(s, o); });
}

Tensor& mul_(Tensor& self, const Scalar& other) { return mul_(self, wrap_scalar(other, self)); }

Tensor& div_(Tensor& self, const Tensor& other, RoundingMode mode) {
  BinaryOp op = mode == RoundingMode::None    ? BinaryOp::Div
                : mode == RoundingMode::Trunc ? BinaryOp::TruncDiv
                                              : BinaryOp::FloorDiv;
  return inplace(self, other, op, "div_",
                 [mode](const Tensor& s, const Tensor& o) { return div(s, o, mode); });
}

Tensor& floor_divide_(Tensor& self, const Tensor& other) {
  return inplace(self, other, BinaryOp::FloorDiv, "floor_divide_",
                 [](const Tensor& s, const Tensor& o) { return floor_divide(s, o); });
}

Tensor& remainder_(Tensor& self, const Tensor& other) {
  return inplace(self, other, BinaryOp::Remainder, "remainder_",
                 [](const Tensor& s, const Tensor& o) { return remainder(s, o); });
}

Tensor& fmod_(Tensor& self, const Tensor& other) {
  return inplace(self, other, BinaryOp::Fmod, "fmod_",
                 [](const Tensor& s, const Tensor& o) { return fmod(s, o); });
}

Tensor& pow_(Tensor& self, const Tensor& exponent) {
  return inplace(self, exponent, BinaryOp::Pow, "pow_",
                 [](const Tensor& s, const Tensor& o) { return pow(s, o); });
}

Tensor& pow_(Tensor& self, const Scalar& e) {
  Tensor w = wrap_scalar(e, self);
  RV_CHECK(is_floating(self.dtype()) || e.is_floating() || e.to_int() >= 0,
           "pow_: Integers to negative integer powers are not allowed.");
  if (autograd::inplace_needs_grad(self, {}, "pow_")) {
    check_inplace_binary(BinaryOp::Pow, self, w, "pow_");
    return autograd::record_inplace(self, "pow_", [&](const Tensor& s) { return pow(s, e); });
  }
  check_inplace_binary(BinaryOp::Pow, self, w, "pow_");
  if (result_type({&self, &w}) == DType::Bool) {  // x**True is x, x**False is True
    if (!e.to_bool()) return fill_(self, Scalar(true));
    self.bump_version();
    return self;
  }
  check_op_dtype(BinaryOp::Pow, result_type({&self, &w}), "pow_");
  UnaryArgs args;
  args.a = e.to_double();
  return unary_forward_(UnaryOp::PowScalar, self, "pow_", args);
}

Tensor& minimum_(Tensor& self, const Tensor& other) {
  return inplace(self, other, BinaryOp::Minimum, "minimum_",
                 [](const Tensor& s, const Tensor& o) { return minimum(s, o); });
}

Tensor& maximum_(Tensor& self, const Tensor& other) {
  return inplace(self, other, BinaryOp::Maximum, "maximum_",
                 [](const Tensor& s, const Tensor& o) { return maximum(s, o); });
}

Tensor& atan2_(Tensor& self, const Tensor& other) {
  return inplace(self, other, BinaryOp::Atan2, "atan2_",
                 [](const Tensor& s, const Tensor& o) { return atan2(s, o); });
}

// ---- comparisons, logical and bitwise ops (no gradient) ----

Tensor eq(const Tensor& a, const Tensor& b) { return binary_forward(BinaryOp::Eq, a, b, "eq"); }
Tensor ne(const Tensor& a, const Tensor& b) { return binary_forward(BinaryOp::Ne, a, b, "ne"); }
Tensor lt(const Tensor& a, const Tensor& b) { return binary_forward(BinaryOp::Lt, a, b, "lt"); }
Tensor le(const Tensor& a, const Tensor& b) { return binary_forward(BinaryOp::Le, a, b, "le"); }
Tensor gt(const Tensor& a, const Tensor& b) { return binary_forward(BinaryOp::Gt, a, b, "gt"); }
Tensor ge(const Tensor& a, const Tensor& b) { return binary_forward(BinaryOp::Ge, a, b, "ge"); }

Tensor logical_and(const Tensor& a, const Tensor& b) {
  return binary_forward(BinaryOp::LogicalAnd, a, b, "logical_and");
}
Tensor logical_or(const Tensor& a, const Tensor& b) {
  return binary_forward(BinaryOp::LogicalOr, a, b, "logical_or");
}
Tensor logical_xor(const Tensor& a, const Tensor& b) {
  return binary_forward(BinaryOp::LogicalXor, a, b, "logical_xor");
}
Tensor bitwise_and(const Tensor& a, const Tensor& b) {
  return binary_forward(BinaryOp::BitAnd, a, b, "bitwise_and");
}
Tensor bitwise_or(const Tensor& a, const Tensor& b) {
  return binary_forward(BinaryOp::BitOr, a, b, "bitwise_or");
}
Tensor bitwise_xor(const Tensor& a, const Tensor& b) {
  return binary_forward(BinaryOp::BitXor, a, b, "bitwise_xor");
}

Tensor& binary_inplace_nograd(BinaryOp op, Tensor& self, const Tensor& other, const char* name) {
  autograd::check_inplace(self, name);
  if (autograd::GradMode::is_enabled() && self.requires_grad()) {
    // the result does not depend differentiably on anything: self's history is cut
    check_inplace_binary(op, self, other, name);
    Tensor r = binary_forward(op, detach(self), detach(other), name);
    autograd::commit_inplace(self, r, name);
    return self;
  }
  return binary_forward_(op, self, other, name);
}

}  // namespace ranvier
