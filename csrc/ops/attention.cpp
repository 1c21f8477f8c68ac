// scaled_dot_product_attention_fused (see attention.h): checks, the fused forward kernel and a
// backward node running the fused backward kernel. float16 / bfloat16 inputs go to the kernels
// as they are on devices that convert 16-bit operands (Note [16-bit operands] in ops/iter.h);
// their logsumexp is kept in float32.
#include "ops/attention.h"

#include <algorithm>
#include <vector>

#include "autograd/function.h"
#include "ops/copy.h"
#include "ops/factory.h"
#include "ops/iter.h"
#include "ops/shape.h"

namespace ranvier {

using autograd::BackwardContext;
using autograd::TensorList;

KernelSlot<AttnKernel> sdpa_forward_kernel{"sdpa_forward"};
KernelSlot<AttnKernel> sdpa_backward_kernel{"sdpa_backward"};

namespace {

// The most probabilities (B L S elements, 16 MB of float) the forward keeps for the backward.
constexpr int64_t kMaxSavedProbs = int64_t(1) << 22;

// A dense tensor of `sizes` whose dims lie in memory in the order of like's strides (largest
// first, the last dim innermost): results and gradients of views of a larger tensor (the heads
// of a fused qkv projection, [B, T, H, D] seen as [B, H, T, D]) then transpose back to it
// without copies. A broadcast `like` (a stride 0) gets a contiguous tensor.
Tensor empty_in_order_of(const Tensor& like, const Shape& sizes, DType dt) {
  const int64_t n = int64_t(sizes.size());
  for (int64_t st : like.strides())
    if (st == 0) return empty(sizes, dt, like.device());
  std::vector<int64_t> order(size_t(n - 1));
  for (int64_t i = 0; i < n - 1; ++i) order[size_t(i)] = i;
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return like.strides()[size_t(a)] > like.strides()[size_t(b)];
  });
  order.push_back(n - 1);
  Shape strides(size_t(n), 1);
  int64_t step = 1;
  for (int64_t i = n - 1; i >= 0; --i) {
    strides[size_t(order[size_t(i)])] = step;
    step *= std::max<int64_t>(sizes[size_t(order[size_t(i)])], 1);
  }
  return empty_strided(sizes, strides, dt, like.device());
}

// When q, k and v are the three slices, in that order, of one block of memory that they tile
// (the heads of a fused qkv projection split three ways: [B, T, 3, H, D] seen as three
// [B, H, T, D]), their gradients laid out the same way in one new block, so that the split's
// backward finds its three pieces adjacent and returns the block without a concatenation.
// False otherwise. The kernels write every element of each gradient, so the block is all set.
bool grads_in_one_block(const Tensor& q, const Tensor& k, const Tensor& v, Tensor out[3]) {
  if (q.sizes() != k.sizes() || q.sizes() != v.sizes() || q.strides() != k.strides() ||
      q.strides() != v.strides() || q.dtype() != k.dtype() || q.dtype() != v.dtype() ||
      q.impl()->storage() != k.impl()->storage() || q.impl()->storage() != v.impl()->storage())
    return false;
  const int64_t step = k.storage_offset() - q.storage_offset();
  if (step <= 0 || v.storage_offset() - k.storage_offset() != step) return false;
  // Dims by increasing stride must be dense, except that from one dim on every stride is three
  // times the dense one, and the slices are `step` = that dense stride apart; or all dense with
  // the slices one whole tensor apart.
  std::vector<size_t> dims;
  for (size_t d = 0; d < q.sizes().size(); ++d)
    if (q.sizes()[d] > 1) dims.push_back(d);
  std::sort(dims.begin(), dims.end(),
            [&](size_t a, size_t b) { return q.strides()[a] < q.strides()[b]; });
  int64_t dense = 1, factor = 1;
  for (size_t d : dims) {
    if (factor == 1 && q.strides()[d] != dense) {
      if (q.strides()[d] != 3 * dense || step != dense) return false;
      factor = 3;
    }
    if (q.strides()[d] != factor * dense) return false;
    dense *= q.sizes()[d];
  }
  if (factor == 1 && step != dense) return false;
  Tensor block = empty({3 * q.numel()}, q.dtype(), q.device());
  for (int i = 0; i < 3; ++i) out[i] = make_view(block, q.sizes(), q.strides(), i * step);
  return true;
}

// t itself when its last dim is contiguous (the strided form reads rows through their stride),
// else a contiguous copy.
Tensor rows_readable(const Tensor& t) {
  return t.sizes().back() <= 1 || t.strides().back() == 1 ? t : contiguous(t);
}

void set_strides(AttnStrides& st, const Tensor& t, int nb) {
  for (int d = 0; d < nb; ++d) st.bs[d] = t.strides()[size_t(d)];
  st.rs = t.strides()[size_t(nb)];
}

}  // namespace

// q: [*batch, L, E], k: [*batch, S, E], v: [*batch, S, Ev], mask [*batch, L, S] or undefined.
// On the CPU the kernels read and write every operand through its strides (AttnSpec's strided
// form), so head views of a fused projection cost no copies; elsewhere they get contiguous
// [B, L, E] blocks (B the product of the batch dims).
Tensor scaled_dot_product_attention_fused(const Tensor& q, const Tensor& k, const Tensor& v,
                                          const Tensor& mask, double scale, bool causal) {
  const char* op = "scaled_dot_product_attention";
  RV_CHECK(q.dim() >= 3 && k.dim() == q.dim() && v.dim() == q.dim(), op,
           ": expected query, key and value with the same number of dims, at least 3, got ",
           q.describe(), ", ", k.describe(), ", ", v.describe());
  const bool half = is_reduced_float(q.dtype());
  RV_CHECK_TYPE(q.dtype() == DType::Float32 || q.dtype() == DType::Float64 ||
                    (half && converts_16bit(q.device())),
                op, ": expected float32 or float64 inputs",
                converts_16bit(q.device()) ? " (or float16 / bfloat16)" : "", ", got ",
                q.describe());
  RV_CHECK(k.dtype() == q.dtype() && v.dtype() == q.dtype(), op,
           ": query, key and value must have the same dtype, got ", q.describe(), ", ",
           k.describe(), ", ", v.describe());
  const int nb = int(q.dim()) - 2;
  const Shape batch(q.sizes().begin(), q.sizes().begin() + nb);
  const int64_t L = q.sizes()[size_t(nb)], E = q.sizes()[size_t(nb + 1)];
  const int64_t S = k.sizes()[size_t(nb)], Ev = v.sizes()[size_t(nb + 1)];
  auto with_batch = [&](int64_t r, int64_t c) {
    Shape sh = batch;
    sh.push_back(r);
    sh.push_back(c);
    return sh;
  };
  RV_CHECK(k.sizes() == with_batch(S, E) && v.sizes() == with_batch(S, Ev), op,
           ": shapes do not match: query ", q.describe(), ", key ", k.describe(), ", value ",
           v.describe());
  if (mask.defined()) {
    RV_CHECK(mask.dtype() == q.dtype() && mask.sizes() == with_batch(L, S), op,
             ": expected a mask of shape ", shape_str(with_batch(L, S)), " and dtype of the "
             "query, got ", mask.describe());
  }
  int64_t B = 1;
  for (int64_t d : batch) B *= d;
  const Shape out_shape = with_batch(L, Ev);
  // The strided form on the CPU (up to kMaxAttnBatch batch dims); contiguous blocks elsewhere.
  const bool strided = q.device().is_cpu() && nb <= kMaxAttnBatch;
  auto prepare = [&](const Tensor& t, int64_t r, int64_t c) {
    return strided ? rows_readable(detach(t)) : contiguous(reshape(detach(t), {B, r, c}));
  };
  Tensor qc = prepare(q, L, E), kc = prepare(k, S, E), vc = prepare(v, S, Ev);
  Tensor mc;
  if (mask.defined()) mc = strided ? detach(mask) : reshape(detach(mask), {B, L, S});
  Tensor out = strided ? empty_in_order_of(qc, out_shape, q.dtype())
                       : empty(out_shape, q.dtype(), q.device());  // = contiguous [B, L, Ev]
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
  const int mnb = strided ? nb : 1;  // the mask's batch dims
  if (mc.defined()) {
    spec.mb = strided ? 0 : mc.strides()[0];
    spec.ml = mc.strides()[size_t(mnb)];
    spec.ms = mc.strides()[size_t(mnb + 1)];
  }
  if (strided) {
    spec.nbatch = nb;
    for (int d = 0; d < nb; ++d) spec.batch_sizes[d] = batch[size_t(d)];
    if (mc.defined()) set_strides(spec.smask, mc, nb);
  }
  auto fill = [strided, nb](AttnSpec& s, const Tensor& qq, const Tensor& kk, const Tensor& vv,
                            const Tensor& mm, const Tensor& oo, const Tensor& ll) {
    s.q = qq.data_ptr();
    s.k = kk.data_ptr();
    s.v = vv.data_ptr();
    s.mask = mm.defined() ? mm.data_ptr() : nullptr;
    s.out = oo.data_ptr();
    s.lse = ll.data_ptr();
    if (strided) {
      set_strides(s.sq, qq, nb);
      set_strides(s.sk, kk, nb);
      set_strides(s.sv, vv, nb);
      set_strides(s.sout, oo, nb);
    }
  };
  fill(spec, qc, kc, vc, mc, out, lse);
  const bool grad = autograd::needs_grad({q, k, v});
  // Small attention on the CPU keeps its probabilities for the backward (B L S floats; the
  // gpt workload's 1 MB a layer), which then skips the scores product and the exp per score.
  Tensor probs;
  if (grad && strided && !half && B * L * S > 0 && B * L * S <= kMaxSavedProbs) {
    probs = empty({B, L, S}, q.dtype(), q.device());
    spec.probs = probs.data_ptr();
  }
  if (out.numel() > 0) sdpa_forward_kernel.get(q.device(), op)(spec);
  if (!grad) return out;
  Tensor outd = detach(out);
  std::vector<Tensor> saved{qc, kc, vc, outd, lse};
  if (mc.defined()) saved.push_back(mc);
  const bool has_mask = mc.defined();
  if (probs.defined()) saved.push_back(probs);
  const size_t probs_slot = saved.size() - 1;
  const Shape q_shape = q.sizes(), k_shape = k.sizes(), v_shape = v.sizes();
  autograd::record("ScaledDotProductAttentionBackward0", {q, k, v}, {&out}, saved, {},
                   [=](BackwardContext& ctx) {
    RV_CHECK_NOT_IMPLEMENTED(!autograd::GradMode::is_enabled(), op,
                             ": double backward is not supported");
    Tensor sq = ctx.saved(0), sk = ctx.saved(1), sv = ctx.saved(2), so = ctx.saved(3),
           sl = ctx.saved(4);
    Tensor sm = has_mask ? ctx.saved(5) : Tensor();
    Tensor g = to_dtype(ctx.grad(), sq.dtype());
    g = strided ? rows_readable(g) : contiguous(reshape(g, {B, L, Ev}));
    AttnSpec s = spec;
    fill(s, sq, sk, sv, sm, so, sl);
    if (s.probs) s.probs = ctx.saved(probs_slot).data_ptr();
    s.grad = g.data_ptr();
    if (strided) set_strides(s.sgrad, g, nb);
    // The kernels write every element; without a key (S = 0) the gradients are zero.
    const bool run = s.b * s.l * s.s > 0;
    // (in the input's shape; without the strided form its memory is the contiguous block)
    auto grad_like = [run, strided](const Tensor& t, const Shape& shape) {
      if (!run) return zeros(shape, t.dtype(), t.device());
      return strided ? empty_in_order_of(t, shape, t.dtype()) : empty(shape, t.dtype(), t.device());
    };
    Tensor gq, gk, gv;
    Tensor block[3];
    if (run && strided && ctx.needs(0) && ctx.needs(1) && ctx.needs(2) &&
        grads_in_one_block(sq, sk, sv, block)) {
      gq = block[0];
      gk = block[1];
      gv = block[2];
    } else {
      if (ctx.needs(0)) gq = grad_like(sq, q_shape);
      if (ctx.needs(1)) gk = grad_like(sk, k_shape);
      if (ctx.needs(2)) gv = grad_like(sv, v_shape);
    }
    s.gq = gq.defined() ? gq.data_ptr() : nullptr;
    s.gk = gk.defined() ? gk.data_ptr() : nullptr;
    s.gv = gv.defined() ? gv.data_ptr() : nullptr;
    if (strided) {
      if (gq.defined()) set_strides(s.sgq, gq, nb);
      if (gk.defined()) set_strides(s.sgk, gk, nb);
      if (gv.defined()) set_strides(s.sgv, gv, nb);
    }
    if (run) sdpa_backward_kernel.get(sq.device(), op)(s);
    return TensorList{gq, gk, gv};
  });
  return out;
}

}  // namespace ranvier
