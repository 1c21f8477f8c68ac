// scaled_dot_product_attention_fused (see attention.h): checks, the fused forward kernel and a
// backward node running the fused backward kernel. float16 / bfloat16 inputs go to the kernels
// as they are on devices that convert 16-bit operands (Note [16-bit operands] in ops/iter.h);
// their logsumexp is kept in float32.
#include "ops/attention.h"

#include "autograd/function.h"
#include "ops/copy.h"
#include "ops/factory.h"
#include "ops/iter.h"

namespace ranvier {

using autograd::BackwardContext;
using autograd::TensorList;

KernelSlot<AttnKernel> sdpa_forward_kernel{"sdpa_forward"};
KernelSlot<AttnKernel> sdpa_backward_kernel{"sdpa_backward"};

Tensor scaled_dot_product_attention_fused(const Tensor& q, const Tensor& k, const Tensor& v,
                                          const Tensor& mask, double scale, bool causal) {
  const char* op = "scaled_dot_product_attention";
  RV_CHECK(q.dim() == 3 && k.dim() == 3 && v.dim() == 3, op,
           ": expected 3-D query, key and value, got ", q.describe(), ", ", k.describe(), ", ",
           v.describe());
  const bool half = is_reduced_float(q.dtype());
  RV_CHECK_TYPE(q.dtype() == DType::Float32 || q.dtype() == DType::Float64 ||
                    (half && converts_16bit(q.device())),
                op, ": expected float32 or float64 inputs",
                converts_16bit(q.device()) ? " (or float16 / bfloat16)" : "", ", got ",
                q.describe());
  RV_CHECK(k.dtype() == q.dtype() && v.dtype() == q.dtype(), op,
           ": query, key and value must have the same dtype, got ", q.describe(), ", ",
           k.describe(), ", ", v.describe());
  const int64_t B = q.sizes()[0], L = q.sizes()[1], E = q.sizes()[2];
  const int64_t S = k.sizes()[1], Ev = v.sizes()[2];
  RV_CHECK(k.sizes()[0] == B && v.sizes()[0] == B && k.sizes()[2] == E && v.sizes()[1] == S,
           op, ": shapes do not match: query ", q.describe(), ", key ", k.describe(),
           ", value ", v.describe());
  if (mask.defined()) {
    RV_CHECK(mask.dtype() == q.dtype() && mask.sizes() == Shape({B, L, S}), op,
             ": expected a mask of shape ", shape_str(Shape({B, L, S})), " and dtype of the "
             "query, got ", mask.describe());
  }
  Tensor qc = contiguous(detach(q)), kc = contiguous(detach(k)), vc = contiguous(detach(v));
  Tensor mc = mask.defined() ? detach(mask) : Tensor();
  Tensor out = empty({B, L, Ev}, q.dtype(), q.device());
  Tensor lse = empty({B, L}, half ? DType::Float32 : q.dtype(), q.device());
  AttnSpec spec;
  spec.dtype = q.dtype();
  spec.b = B;
  spec.l = L;
  spec.s = S;
  spec.e = E;
  spec.ev = Ev;
  spec.scale = scale;
  spec.causal = causal;
  if (mc.defined()) {
    spec.mb = mc.strides()[0];
    spec.ml = mc.strides()[1];
    spec.ms = mc.strides()[2];
  }
  auto fill = [](AttnSpec& s, const Tensor& qq, const Tensor& kk, const Tensor& vv,
                 const Tensor& mm, const Tensor& oo, const Tensor& ll) {
    s.q = qq.data_ptr();
    s.k = kk.data_ptr();
    s.v = vv.data_ptr();
    s.mask = mm.defined() ? mm.data_ptr() : nullptr;
    s.out = oo.data_ptr();
    s.lse = ll.data_ptr();
  };
  fill(spec, qc, kc, vc, mc, out, lse);
  if (out.numel() > 0) sdpa_forward_kernel.get(q.device(), op)(spec);
  if (!autograd::needs_grad({q, k, v})) return out;
  Tensor outd = detach(out);
  std::vector<Tensor> saved{qc, kc, vc, outd, lse};
  if (mc.defined()) saved.push_back(mc);
  const bool has_mask = mc.defined();
  autograd::record("ScaledDotProductAttentionBackward0", {q, k, v}, {&out}, saved, {},
                   [=](BackwardContext& ctx) {
    RV_CHECK_NOT_IMPLEMENTED(!autograd::GradMode::is_enabled(), op,
                             ": double backward is not supported");
    Tensor sq = ctx.saved(0), sk = ctx.saved(1), sv = ctx.saved(2), so = ctx.saved(3),
           sl = ctx.saved(4);
    Tensor sm = has_mask ? ctx.saved(5) : Tensor();
    Tensor g = contiguous(to_dtype(ctx.grad(), sq.dtype()));
    AttnSpec s = spec;
    fill(s, sq, sk, sv, sm, so, sl);
    s.grad = g.data_ptr();
    // The kernels write every element; without a key (S = 0) the gradients are zero.
    const bool run = s.b * s.l * s.s > 0;
    auto grad_like = [run](const Tensor& t) {
      return run ? empty(t.sizes(), t.dtype(), t.device())
                 : zeros(t.sizes(), t.dtype(), t.device());
    };
    Tensor gq, gk, gv;
    if (ctx.needs(0)) gq = grad_like(sq);
    if (ctx.needs(1)) gk = grad_like(sk);
    if (ctx.needs(2)) gv = grad_like(sv);
    s.gq = gq.defined() ? gq.data_ptr() : nullptr;
    s.gk = gk.defined() ? gk.data_ptr() : nullptr;
    s.gv = gv.defined() ? gv.data_ptr() : nullptr;
    if (run) sdpa_backward_kernel.get(sq.device(), op)(s);
    return TensorList{gq, gk, gv};
  });
  return out;
}

}  // namespace ranvier
