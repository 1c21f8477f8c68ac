// batch_norm and layer_norm (see norm.h): checks, the fused forward kernel, the running-stat
// update and a backward node running the fused backward kernel.
#include "ops/norm.h"

#include "autograd/function.h"
#include "ops/binary.h"
#include "ops/copy.h"
#include "ops/factory.h"
#include "ops/shape.h"

namespace ranvier {

using autograd::BackwardContext;
using autograd::TensorList;

KernelSlot<NormKernel> batch_norm_forward_kernel{"batch_norm_forward"};
KernelSlot<NormKernel> batch_norm_backward_kernel{"batch_norm_backward"};
KernelSlot<NormKernel> layer_norm_forward_kernel{"layer_norm_forward"};
KernelSlot<NormKernel> layer_norm_backward_kernel{"layer_norm_backward"};

namespace {

Tensor as_compute(const Tensor& t, DType dt) {
  return t.defined() ? contiguous(to_dtype(detach(t), dt)) : Tensor();
}
const void* ptr(const Tensor& t) { return t.defined() ? t.data_ptr() : nullptr; }

void check_param(const Tensor& p, const char* what, int64_t c, const char* op) {
  if (!p.defined()) return;
  RV_CHECK(p.numel() == c, op, ": ", what, " should contain ", c, " elements not ", p.numel());
}

// The backward node shared by both ops: inputs {x, weight, bias}, saved {x, w, mean, invstd}.
template <typename KernelSlotT>
void record_norm(const char* name, const char* op, Tensor& out, const Tensor& input,
                 const Tensor& weight, const Tensor& bias, const Tensor& xc, const Tensor& wc,
                 const Tensor& mean, const Tensor& invstd, NormSpec spec, KernelSlotT* slot) {
  if (!autograd::needs_grad({input, weight, bias})) return;
  bool has_w = wc.defined();
  Shape wshape = weight.defined() ? weight.sizes() : Shape{};
  Shape bshape = bias.defined() ? bias.sizes() : Shape{};
  DType xdt = input.dtype();
  DType wdt = weight.defined() ? weight.dtype() : input.dtype();
  DType bdt = bias.defined() ? bias.dtype() : input.dtype();
  std::vector<Tensor> saved{xc, mean, invstd};
  if (has_w) saved.push_back(wc);
  autograd::record(name, {input, weight, bias}, {&out}, saved, {},
                   [=](BackwardContext& ctx) {
    RV_CHECK_NOT_IMPLEMENTED(!autograd::GradMode::is_enabled(), op,
                             ": double backward is not supported");
    Tensor x = ctx.saved(0), mean = ctx.saved(1), invstd = ctx.saved(2);
    Tensor w = has_w ? ctx.saved(3) : Tensor();
    Tensor g = contiguous(to_dtype(ctx.grad(), x.dtype()));
    NormSpec s = spec;
    Tensor gx, gw, gb;
    if (ctx.needs(0)) gx = empty(x.sizes(), x.dtype(), x.device());
    if (ctx.needs(1)) gw = empty(wshape, x.dtype(), x.device());
    if (ctx.needs(2)) gb = empty(bshape, x.dtype(), x.device());
    s.x = x.data_ptr();
    s.weight = ptr(w);
    s.mean = mean.data_ptr();
    s.invstd = invstd.data_ptr();
    s.grad = g.data_ptr();
    s.grad_x = gx.defined() ? gx.data_ptr() : nullptr;
    s.grad_w = gw.defined() ? gw.data_ptr() : nullptr;
    s.grad_b = gb.defined() ? gb.data_ptr() : nullptr;
    if (x.numel() > 0 || gw.defined() || gb.defined()) slot->get(x.device(), op)(s);
    if (gx.defined() && gx.dtype() != xdt) gx = to_dtype(gx, xdt);
    if (gw.defined() && gw.dtype() != wdt) gw = to_dtype(gw, wdt);
    if (gb.defined() && gb.dtype() != bdt) gb = to_dtype(gb, bdt);
    return TensorList{gx, gw, gb};
  });
}

}  // namespace

Tensor batch_norm(const Tensor& input, const Tensor& running_mean, const Tensor& running_var,
                  const Tensor& weight, const Tensor& bias, bool training, double momentum,
                  double eps) {
  const char* op = "batch_norm";
  RV_CHECK_TYPE(is_floating(input.dtype()), op, ": expected a floating point input, got ",
                input.describe());
  RV_CHECK(input.dim() >= 2, op, ": expected an input of shape (N, C, *) with at least 2 dims, "
           "got ", input.describe());
  const int64_t n = input.sizes()[0], c = input.sizes()[1];
  const int64_t s = c == 0 || n == 0 ? 0 : input.numel() / (n * c);
  check_param(running_mean, "running_mean", c, op);
  check_param(running_var, "running_var", c, op);
  check_param(weight, "weight", c, op);
  check_param(bias, "bias", c, op);
  RV_CHECK(running_mean.defined() == running_var.defined(), op,
           ": running_mean and running_var must both be given or both be None");
  RV_CHECK(training || running_mean.defined(), op,
           ": running_mean and running_var must be defined in evaluation mode");
  if (training) {
    int64_t per = 1;
    for (int64_t i = 0; i < input.dim(); ++i) if (i != 1) per *= input.sizes()[i];
    RV_CHECK_VALUE(per != 1, "Expected more than 1 value per channel when training, got input "
                   "size ", shape_str(input.sizes()));
  }
  DType dt = is_reduced_float(input.dtype()) ? DType::Float32 : input.dtype();
  Tensor xc = as_compute(input, dt), wc = as_compute(weight, dt), bc = as_compute(bias, dt);
  Tensor y = empty(input.sizes(), dt, input.device());
  Tensor mean = training ? empty({c}, dt, input.device()) : as_compute(running_mean, dt);
  Tensor invstd = empty({c}, dt, input.device());
  Tensor var_u = training && running_var.defined() ? empty({c}, dt, input.device()) : Tensor();
  Tensor var_in = training ? Tensor() : as_compute(running_var, dt);
  NormSpec spec;
  spec.dtype = dt;
  spec.n = n;
  spec.c = c;
  spec.s = s;
  spec.eps = eps;
  spec.training = training;
  spec.x = xc.data_ptr();
  spec.weight = ptr(wc);
  spec.bias = ptr(bc);
  spec.mean = mean.data_ptr();
  spec.invstd = invstd.data_ptr();
  spec.var_in = ptr(var_in);
  spec.var_unbiased = var_u.defined() ? var_u.data_ptr() : nullptr;
  spec.y = y.data_ptr();
  if (c > 0) batch_norm_forward_kernel.get(input.device(), op)(spec);
  if (training && running_mean.defined() && n * s > 0) {  // an empty batch leaves them
    autograd::NoGradGuard ng;
    Tensor rm = running_mean, rv = running_var;
    Tensor nm = add(mul(rm, 1.0 - momentum), mul(to_dtype(mean, rm.dtype()), momentum));
    Tensor nv = add(mul(rv, 1.0 - momentum), mul(to_dtype(var_u, rv.dtype()), momentum));
    copy_(rm, nm);
    copy_(rv, nv);
  }
  record_norm("NativeBatchNormBackward0", op, y, input, weight, bias, xc, wc, mean, invstd,
              spec, &batch_norm_backward_kernel);
  return y.dtype() == input.dtype() ? y : to_dtype(y, input.dtype());
}

Tensor layer_norm(const Tensor& input, const Shape& normalized_shape, const Tensor& weight,
                  const Tensor& bias, double eps) {
  const char* op = "layer_norm";
  RV_CHECK_TYPE(is_floating(input.dtype()), op, ": expected a floating point input, got ",
                input.describe());
  const int64_t nd = int64_t(normalized_shape.size());
  RV_CHECK(nd >= 1, op, ": expected normalized_shape to have at least one element, got []");
  bool match = input.dim() >= nd;
  for (int64_t i = 0; match && i < nd; ++i)
    match = input.sizes()[input.dim() - nd + i] == normalized_shape[i];
  RV_CHECK(match, op, ": normalized_shape ", shape_str(normalized_shape),
           " does not match the trailing dims of the input of shape ", shape_str(input.sizes()));
  if (weight.defined())
    RV_CHECK(weight.sizes() == normalized_shape, op, ": expected weight of shape ",
             shape_str(normalized_shape), ", got ", weight.describe());
  if (bias.defined())
    RV_CHECK(bias.sizes() == normalized_shape, op, ": expected bias of shape ",
             shape_str(normalized_shape), ", got ", bias.describe());
  int64_t k = 1;
  for (int64_t v : normalized_shape) k *= v;
  const int64_t m = k == 0 ? 0 : input.numel() / k;
  Shape stat_shape(input.sizes().begin(), input.sizes().end() - nd);
  DType dt = is_reduced_float(input.dtype()) ? DType::Float32 : input.dtype();
  Tensor xc = as_compute(input, dt), wc = as_compute(weight, dt), bc = as_compute(bias, dt);
  Tensor y = empty(input.sizes(), dt, input.device());
  Tensor mean = empty(stat_shape, dt, input.device());
  Tensor invstd = empty(stat_shape, dt, input.device());
  NormSpec spec;
  spec.dtype = dt;
  spec.n = m;
  spec.c = k;
  spec.eps = eps;
  spec.x = xc.data_ptr();
  spec.weight = ptr(wc);
  spec.bias = ptr(bc);
  spec.mean = mean.data_ptr();
  spec.invstd = invstd.data_ptr();
  spec.y = y.data_ptr();
  if (input.numel() > 0) layer_norm_forward_kernel.get(input.device(), op)(spec);
  record_norm("NativeLayerNormBackward0", op, y, input, weight, bias, xc, wc, mean, invstd, spec,
              &layer_norm_backward_kernel);
  return y.dtype() == input.dtype() ? y : to_dtype(y, input.dtype());
}

}  // namespace ranvier
