// Fused cross_entropy (see loss.h): checks, the per-sample kernel, the reduction with ops and
// a backward node that runs the fused gradient kernel.
#include "ops/loss.h"

#include "autograd/function.h"
#include "ops/binary.h"
#include "ops/copy.h"
#include "ops/iter.h"
#include "ops/reduce.h"
#include "ops/shape.h"

namespace ranvier {

using autograd::BackwardContext;
using autograd::TensorList;

KernelSlot<CrossEntropyKernel> cross_entropy_forward_kernel{"cross_entropy_forward"};
KernelSlot<CrossEntropyKernel> cross_entropy_backward_kernel{"cross_entropy_backward"};

Reduction parse_reduction(const std::string& s, const char* op) {
  if (s == "none") return Reduction::None;
  if (s == "mean") return Reduction::Mean;
  if (s == "sum") return Reduction::Sum;
  throw_error(ErrorKind::Value, str_cat(op, ": '", s, "' is not a valid value for reduction "
                                        "(expected 'none', 'mean' or 'sum')"));
}

Tensor cross_entropy(const Tensor& input, const Tensor& target, const Tensor& weight,
                     Reduction reduction, int64_t ignore_index, double label_smoothing,
                     std::optional<DType> dtype) {
  const char* op = "cross_entropy";
  RV_CHECK_TYPE(is_floating(input.dtype()), op, ": expected a floating point input, got ",
                input.describe());
  RV_CHECK(target.dtype() == DType::Int64, op, ": expected class-index targets of dtype int64 "
           "(or floating class probabilities of the input's shape), got ", target.describe());
  RV_CHECK_VALUE(label_smoothing >= 0.0 && label_smoothing <= 1.0, op,
                 ": label_smoothing must be between 0.0 and 1.0, got ", label_smoothing);
  RV_CHECK_VALUE(input.dim() >= 1, op, ": expected an input with at least 1 dim, got ",
                 input.describe());
  // 16-bit logits read in place where the kernels convert them (Note [16-bit operands]), the
  // loss computed in float32.
  const bool native16 = is_reduced_float(input.dtype()) && converts_16bit(input.device());
  const DType out_dtype = dtype ? *dtype : input.dtype();
  if (dtype) {
    RV_CHECK_TYPE(is_floating(*dtype), op, ": expected a floating dtype, got ",
                  dtype_short_name(*dtype));
    if (*dtype != input.dtype() && !(native16 && *dtype == DType::Float32))
      return cross_entropy(to_dtype(input, *dtype), target, weight, reduction, ignore_index,
                           label_smoothing);
  }
  if (is_reduced_float(input.dtype()) && !native16) {
    Tensor w = weight.defined() ? to_dtype(weight, DType::Float32) : weight;
    return to_dtype(cross_entropy(to_dtype(input, DType::Float32), target, w, reduction,
                                  ignore_index, label_smoothing), input.dtype());
  }
  const DType ct = native16 ? DType::Float32 : input.dtype();
  // Expected target shape: the input's without dim 1 (or 0-d for a [C] input).
  Shape tshape;
  const int64_t cdim = input.dim() == 1 ? 0 : 1;
  for (int64_t i = 0; i < input.dim(); ++i)
    if (i != cdim) tshape.push_back(input.sizes()[i]);
  if (input.dim() >= 2 && target.dim() >= 1)
    RV_CHECK_VALUE(target.sizes()[0] == input.sizes()[0], op, ": expected input batch_size (",
                   input.sizes()[0], ") to match target batch_size (", target.sizes()[0], ")");
  RV_CHECK(target.sizes() == tshape, op, ": expected target of shape ", shape_str(tshape),
           " for input of shape ", shape_str(input.sizes()), ", got ", target.describe());
  const int64_t c = input.sizes()[cdim];
  Tensor w;
  if (weight.defined()) {
    RV_CHECK(weight.dim() == 1 && weight.numel() == c, op, ": expected a weight of ", c,
             " elements (one per class), got ", weight.describe());
    w = contiguous(to_dtype(detach(weight), ct));
  }
  Tensor z = contiguous(detach(input));
  Tensor tg = contiguous(target);
  Tensor loss = empty(tshape, ct, input.device());
  Tensor wt = empty(tshape, ct, input.device());
  CrossEntropySpec s;
  s.dtype = ct;
  s.logits_dtype = input.dtype();
  s.n = input.dim() == 1 ? 1 : input.sizes()[0];
  s.c = c;
  s.inner = 1;
  for (int64_t i = 2; i < input.dim(); ++i) s.inner *= input.sizes()[i];
  s.ignore_index = ignore_index;
  s.smoothing = label_smoothing;
  if (tg.numel() > 0) {
    s.logits = z.data_ptr();
    s.target = tg.data<int64_t>();
    s.weight = w.defined() ? w.data_ptr() : nullptr;
    s.loss = loss.data_ptr();
    s.wt = wt.data_ptr();
    cross_entropy_forward_kernel.get(input.device(), op)(s);
  }
  Tensor out, denom;
  {
    autograd::NoGradGuard ng;
    if (reduction == Reduction::None) out = loss;
    else if (reduction == Reduction::Sum) out = sum(loss);
    else {
      denom = sum(wt);
      out = div(sum(loss), denom);
    }
  }
  if (autograd::needs_grad({input})) {
    std::vector<Tensor> saved{z, tg};
    if (w.defined()) saved.push_back(w);
    if (denom.defined()) saved.push_back(denom);
    bool has_w = w.defined();
    autograd::record("CrossEntropyBackward0", {input}, {&out}, saved, {},
                     [s, has_w, reduction, tshape](BackwardContext& ctx) {
      RV_CHECK_NOT_IMPLEMENTED(!autograd::GradMode::is_enabled(),
                               "cross_entropy: double backward is not supported");
      Tensor z = ctx.saved(0), tg = ctx.saved(1);
      Tensor w = has_w ? ctx.saved(2) : Tensor();
      Tensor g = ctx.grad();
      if (reduction == Reduction::Mean) g = div(g, ctx.saved(has_w ? 3 : 2));
      g = contiguous(expand(g, tshape));
      Tensor gin = empty(z.sizes(), z.dtype(), z.device());
      if (z.numel() == 0) return TensorList{gin};
      CrossEntropySpec b = s;
      b.logits = z.data_ptr();
      b.target = tg.data<int64_t>();
      b.weight = has_w ? w.data_ptr() : nullptr;
      b.grad = g.data_ptr();
      b.grad_in = gin.data_ptr();
      cross_entropy_backward_kernel.get(z.device(), "cross_entropy")(b);
      return TensorList{gin};
    });
  }
  return out.dtype() == out_dtype ? out : to_dtype(out, out_dtype);
}

}  // namespace ranvier
