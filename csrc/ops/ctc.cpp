// ctc_loss (see ctc.h): argument and length checks, target offsets, the per-sample kernel, a
// backward node running the gradient kernel, and the reduction written with ops.
#include "ops/ctc.h"

#include <algorithm>

#include "autograd/function.h"
#include "ops/binary.h"
#include "ops/copy.h"
#include "ops/reduce.h"
#include "ops/shape.h"
#include "ops/ternary.h"

namespace ranvier {

using autograd::BackwardContext;
using autograd::TensorList;

KernelSlot<CtcKernel> ctc_forward_kernel{"ctc_forward"};
KernelSlot<CtcKernel> ctc_backward_kernel{"ctc_backward"};

namespace {
Tensor lengths_arg(const Tensor& t, int64_t n, const char* what) {
  RV_CHECK_TYPE(!is_floating(t.dtype()) && t.dtype() != DType::Bool, "ctc_loss: ", what,
                " must be integers, got ", t.describe());
  RV_CHECK_VALUE(t.dim() <= 1 && t.numel() == n, "ctc_loss: expected ", what, " of ", n,
                 " elements (one per batch element), got ", t.describe());
  return contiguous(to_dtype(reshape(to_device(t, Device()), {n}), DType::Int64));  // host
}
}  // namespace

Tensor ctc_loss(const Tensor& log_probs, const Tensor& targets, const Tensor& input_lengths,
                const Tensor& target_lengths, int64_t blank, Reduction reduction,
                bool zero_infinity) {
  const char* op = "ctc_loss";
  RV_CHECK_TYPE(is_floating(log_probs.dtype()), op, ": expected floating point log_probs, got ",
                log_probs.describe());
  RV_CHECK_VALUE(log_probs.dim() == 3, op, ": expected log_probs of shape [T, N, C], got ",
                 log_probs.describe());
  if (is_reduced_float(log_probs.dtype()))
    return to_dtype(ctc_loss(to_dtype(log_probs, DType::Float32), targets, input_lengths,
                             target_lengths, blank, reduction, zero_infinity),
                    log_probs.dtype());
  const int64_t T = log_probs.sizes()[0], N = log_probs.sizes()[1], C = log_probs.sizes()[2];
  RV_CHECK_VALUE(blank >= 0 && blank < C, op, ": blank must be in label range [0, ", C,
                 "), got ", blank);
  RV_CHECK_TYPE(!is_floating(targets.dtype()) && targets.dtype() != DType::Bool, op,
                ": targets must be integers, got ", targets.describe());
  RV_CHECK_VALUE(targets.dim() == 1 || targets.dim() == 2, op, ": expected targets of shape "
                 "[N, S] (padded) or [sum(target_lengths)] (concatenated), got ",
                 targets.describe());
  Tensor il = lengths_arg(input_lengths, N, "input_lengths");
  Tensor tl = lengths_arg(target_lengths, N, "target_lengths");
  // The checks and offsets run on the host (host copies of CUDA targets); the kernel gets
  // copies on log_probs' device (no copies at all on the CPU).
  Tensor tg = contiguous(to_dtype(to_device(targets, Device()), DType::Int64));
  Tensor off = empty({N}, DType::Int64, Device());
  const int64_t* ilp = il.data<int64_t>();
  const int64_t* tlp = tl.data<int64_t>();
  int64_t* offp = off.data<int64_t>();
  const int64_t* tgp = tg.numel() > 0 ? tg.data<int64_t>() : nullptr;
  const bool padded = targets.dim() == 2;
  if (padded)
    RV_CHECK_VALUE(targets.sizes()[0] == N, op, ": expected padded targets with ", N,
                   " rows (the batch size of log_probs ", shape_str(log_probs.sizes()),
                   "), got ", targets.describe());
  int64_t pos = 0;
  for (int64_t b = 0; b < N; ++b) {
    RV_CHECK_VALUE(ilp[b] >= 0 && ilp[b] <= T, op, ": expected input_lengths to have values in "
                   "[0, ", T, "] (T of log_probs ", shape_str(log_probs.sizes()), "), got ",
                   ilp[b], " for batch element ", b);
    RV_CHECK_VALUE(tlp[b] >= 0, op, ": target_lengths must be non-negative, got ", tlp[b],
                   " for batch element ", b);
    if (padded) {
      RV_CHECK_VALUE(tlp[b] <= targets.sizes()[1], op, ": target length ", tlp[b],
                     " of batch element ", b, " exceeds the padded targets' width (targets ",
                     shape_str(targets.sizes()), ")");
      offp[b] = b * targets.sizes()[1];
    } else {
      RV_CHECK_VALUE(pos + tlp[b] <= tg.numel(), op, ": the target lengths add up to more than "
                     "the ", tg.numel(), " concatenated targets (targets ",
                     shape_str(targets.sizes()), ")");
      offp[b] = pos;
      pos += tlp[b];
    }
    for (int64_t i = 0; i < tlp[b]; ++i) {
      int64_t v = tgp[offp[b] + i];
      RV_CHECK_INDEX(v >= 0 && v < C, op, ": target ", v, " of batch element ", b,
                     " is out of bounds for ", C, " classes");
      RV_CHECK_VALUE(v != blank, op, ": target ", i, " of batch element ", b,
                     " equals the blank index ", blank);
    }
  }
  Tensor lp = contiguous(detach(log_probs));
  Tensor nll = empty({N}, log_probs.dtype(), log_probs.device());
  const bool grad = autograd::needs_grad({log_probs});
  int64_t max_tl = 0;
  for (int64_t b = 0; b < N; ++b) max_tl = std::max(max_tl, tlp[b]);
  Tensor alpha = grad ? empty({N, T * (2 * max_tl + 1)}, DType::Float64, log_probs.device())
                      : Tensor();
  const Device dev = log_probs.device();
  il = to_device(il, dev);
  tl = to_device(tl, dev);
  tg = to_device(tg, dev);
  off = to_device(off, dev);
  CtcSpec s;
  s.dtype = log_probs.dtype();
  s.t = T;
  s.n = N;
  s.c = C;
  s.blank = blank;
  s.zero_infinity = zero_infinity;
  if (N > 0) {
    s.log_probs = lp.data_ptr();
    s.targets = tg.numel() > 0 ? tg.data<int64_t>() : nullptr;
    s.offset = off.data<int64_t>();
    s.input_lengths = il.data<int64_t>();
    s.target_lengths = tl.data<int64_t>();
    s.nll = nll.data_ptr();
    s.alpha = grad && alpha.numel() > 0 ? alpha.data<double>() : nullptr;
    s.alpha_stride = T * (2 * max_tl + 1);
    ctc_forward_kernel.get(log_probs.device(), op)(s);
  }
  if (grad) {
    autograd::record("CtcLossBackward0", {log_probs}, {&nll}, {lp, tg, off, il, tl, alpha}, {},
                     [s](BackwardContext& ctx) {
      RV_CHECK_NOT_IMPLEMENTED(!autograd::GradMode::is_enabled(),
                               "ctc_loss: double backward is not supported");
      Tensor lp = ctx.saved(0), tg = ctx.saved(1), off = ctx.saved(2);
      Tensor il = ctx.saved(3), tl = ctx.saved(4), alpha = ctx.saved(5);
      Tensor g = contiguous(ctx.grad());
      Tensor gin = empty(lp.sizes(), lp.dtype(), lp.device());
      if (lp.numel() == 0) return TensorList{gin};
      CtcSpec b = s;
      b.log_probs = lp.data_ptr();
      b.targets = tg.numel() > 0 ? tg.data<int64_t>() : nullptr;
      b.offset = off.data<int64_t>();
      b.input_lengths = il.data<int64_t>();
      b.target_lengths = tl.data<int64_t>();
      b.alpha = alpha.numel() > 0 ? alpha.data<double>() : nullptr;
      b.grad = g.data_ptr();
      b.grad_in = gin.data_ptr();
      ctc_backward_kernel.get(lp.device(), "ctc_loss")(b);
      return TensorList{gin};
    });
  }
  if (reduction == Reduction::None) return nll;
  if (reduction == Reduction::Sum) return sum(nll);
  Tensor denom = clamp(to_dtype(tl, nll.dtype()), Scalar(1.0), std::nullopt);
  return mean(div(nll, denom));
}

}  // namespace ranvier
