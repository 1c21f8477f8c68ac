// Softmax family (see softmax.h). Inputs are made contiguous and seen as [outer, n, inner];
// float16/bfloat16 compute in float32 and convert back (the conversion is differentiable).
#include "ops/softmax.h"

#include "autograd/function.h"
#include "ops/binary.h"
#include "ops/copy.h"
#include "ops/reduce.h"
#include "ops/unary.h"

namespace ranvier {

using autograd::BackwardContext;
using autograd::TensorList;

KernelSlot<SoftmaxKernel> softmax_forward_kernel{"softmax_forward"};
KernelSlot<SoftmaxKernel> softmax_backward_kernel{"softmax_backward"};

namespace {

SoftmaxSpec make_spec(const Tensor& c, int64_t dim, bool log) {
  SoftmaxSpec s;
  s.dtype = c.dtype();
  s.log = log;
  for (int64_t i = 0; i < c.dim(); ++i) {
    if (i < dim) s.outer *= c.sizes()[i];
    else if (i == dim) s.n = c.sizes()[i];
    else s.inner *= c.sizes()[i];
  }
  return s;
}

// The input gradient from y and g with ops (differentiable again).
Tensor backward_with_ops(const Tensor& y, const Tensor& g, int64_t dim, bool log) {
  if (log) return sub(g, mul(exp(y), sum(g, {dim}, true)));
  return mul(y, sub(g, sum(mul(g, y), {dim}, true)));
}

Tensor softmax_impl(const Tensor& input, int64_t dim_in, std::optional<DType> dtype, bool log,
                    const char* name) {
  Tensor t = dtype ? to_dtype(input, *dtype) : input;
  RV_CHECK_TYPE(is_floating(t.dtype()), name, ": expected a floating point input (or a dtype= "
                "argument), got ", t.describe());
  int64_t dim = wrap_dim(dim_in, t.dim(), name);
  if (is_reduced_float(t.dtype())) {
    DType orig = t.dtype();
    return to_dtype(softmax_impl(to_dtype(t, DType::Float32), dim, std::nullopt, log, name), orig);
  }
  if (t.dim() == 0) dim = 0;
  Tensor c = contiguous(detach(t));
  Tensor out = empty(t.sizes(), t.dtype(), t.device());
  if (t.numel() > 0) {
    SoftmaxSpec s = t.dim() == 0 ? SoftmaxSpec{} : make_spec(c, dim, log);
    s.dtype = t.dtype();
    s.log = log;
    s.in = c.data_ptr();
    s.out = out.data_ptr();
    softmax_forward_kernel.get(t.device(), name)(s);
  }
  if (autograd::needs_grad({t})) {
    const char* bname = log ? "LogSoftmaxBackward0" : "SoftmaxBackward0";
    autograd::record(bname, {t}, {&out}, {}, {&out}, [dim, log, name](BackwardContext& ctx) {
      Tensor y = ctx.saved(0);
      const Tensor& g = ctx.grad();
      if (autograd::GradMode::is_enabled() || y.numel() == 0)
        return TensorList{backward_with_ops(y, g, y.dim() == 0 ? 0 : dim, log)};
      Tensor gc = contiguous(g);
      Tensor gin = empty(y.sizes(), y.dtype(), y.device());
      SoftmaxSpec s = y.dim() == 0 ? SoftmaxSpec{} : make_spec(y, dim, log);
      s.dtype = y.dtype();
      s.log = log;
      s.in = y.data_ptr();
      s.grad = gc.data_ptr();
      s.out = gin.data_ptr();
      softmax_backward_kernel.get(y.device(), name)(s);
      return TensorList{gin};
    });
  }
  return out;
}

}  // namespace

Tensor softmax(const Tensor& t, int64_t dim, std::optional<DType> dtype) {
  return softmax_impl(t, dim, dtype, false, "softmax");
}
Tensor log_softmax(const Tensor& t, int64_t dim, std::optional<DType> dtype) {
  return softmax_impl(t, dim, dtype, true, "log_softmax");
}
Tensor softmin(const Tensor& t, int64_t dim, std::optional<DType> dtype) {
  Tensor x = dtype ? to_dtype(t, *dtype) : t;
  RV_CHECK_TYPE(is_floating(x.dtype()), "softmin: expected a floating point input (or a dtype= "
                "argument), got ", x.describe());
  return softmax_impl(neg(x), dim, std::nullopt, false, "softmin");
}

}  // namespace ranvier
