// conv2d -> relu -> max_pool2d(2) as one op (Note [Fused patterns], ops/conv.h). The forward
// keeps only the pooled output and one byte per pooled element (which window tap won, or that
// no gradient passes); the three ops would write and read the conv output, its relu and the
// pool's int64 indices, four times the pooled size each. The backward kernels build the conv
// output's gradient from the pooled one as they go (a row or a chunk of samples at a time).
// When the backward records a graph, or the kernels cannot make the input gradient, the conv
// output's gradient is spread out with ops and conv2d's own backward runs on it.
#include "autograd/function.h"
#include "core/dispatch.h"
#include "ops/conv.h"
#include "ops/copy.h"
#include "ops/factory.h"
#include "ops/shape.h"
#include "ops/ternary.h"

namespace ranvier {

ConvReluPoolKernels conv_relu_pool_cpu;

namespace {

using autograd::BackwardContext;
using autograd::TensorList;

Tensor dense(const Tensor& t) { return t.is_contiguous() ? t : contiguous_clone(t); }

bool float32_cpu(const Tensor& t) {
  return !t.defined() || (t.dtype() == DType::Float32 && t.device().is_cpu());
}

// The conv output's gradient [N, C, 2 ph, 2 pw] from the pooled one: each pooled gradient at
// its window's chosen tap, zeros elsewhere (a select, as the pool's and relu's backwards do,
// so an infinite gradient does not turn the other taps into NaN). Differentiable in gpool.
Tensor spread(const Tensor& gpool, const Tensor& codes) {
  const Shape& s = codes.sizes();
  const int64_t n = s[0], c = s[1], ph = s[2], pw = s[3];
  Tensor chosen = empty({n, c, 2 * ph, 2 * pw}, DType::Bool, codes.device());
  const uint8_t* cd = static_cast<const uint8_t*>(codes.data_ptr());
  bool* out = static_cast<bool*>(chosen.data_ptr());
  for (int64_t plane = 0; plane < n * c; ++plane)
    for (int64_t i = 0; i < 2 * ph; ++i)
      for (int64_t j = 0; j < 2 * pw; ++j)
        out[(plane * 2 * ph + i) * 2 * pw + j] =
            cd[(plane * ph + i / 2) * pw + j / 2] == 2 * (i & 1) + (j & 1);
  Tensor up = reshape(expand(reshape(gpool, {n, c, ph, 1, pw, 1}), {n, c, ph, 2, pw, 2}),
                      {n, c, 2 * ph, 2 * pw});
  return where(chosen, up, zeros({}, gpool.dtype(), gpool.device()));
}

}  // namespace

Tensor conv2d_relu_max_pool2d(const Tensor& input, const Tensor& weight, const Tensor& bias,
                              Pair padding) {
  ensure_kernels_registered();
  const ConvReluPoolKernels& k = conv_relu_pool_cpu;
  if (!k.applies || input.dim() != 4 || weight.dim() != 4 || !float32_cpu(input) ||
      !float32_cpu(weight) || !float32_cpu(bias) || padding[0] < 0 || padding[1] < 0)
    return Tensor();
  const Shape& xs = input.sizes();
  const Shape& ws = weight.sizes();
  if (xs[1] != ws[1] || (bias.defined() && (bias.dim() != 1 || bias.sizes()[0] != ws[0])))
    return Tensor();  // conv2d itself reports the mismatch
  const int64_t oh = xs[2] + 2 * padding[0] - ws[2] + 1, ow = xs[3] + 2 * padding[1] - ws[3] + 1;
  // dtype, n, groups, ci, h, w, co, oh, ow, kh, kw, dh, dw, ph, pw, sh, sw
  const ConvGeom g{DType::Float32, xs[0], 1, xs[1], xs[2], xs[3], ws[0], oh, ow,
                   ws[2], ws[3], 1, 1, padding[0], padding[1], 1, 1};
  if (g.oh <= 0 || g.ow <= 0 || !k.applies(g)) return Tensor();
  const Shape pooled_shape{g.n, g.co, g.oh / 2, g.ow / 2};
  Tensor out = empty(pooled_shape, DType::Float32, input.device());
  Tensor codes = empty(pooled_shape, DType::UInt8, input.device());
  if (out.numel() > 0) {
    Tensor x = dense(input), w = dense(weight), b = bias.defined() ? dense(bias) : bias;
    k.forward(g, static_cast<const float*>(x.data_ptr()), static_cast<const float*>(w.data_ptr()),
              b.defined() ? static_cast<const float*>(b.data_ptr()) : nullptr,
              static_cast<float*>(out.data_ptr()), static_cast<uint8_t*>(codes.data_ptr()));
  }
  if (autograd::needs_grad({input, weight, bias})) {
    autograd::record(
        "ConvReluMaxPoolBackward0", {input, weight, bias}, {&out}, {input, weight}, {},
        [=](BackwardContext& ctx) {
          Tensor x = ctx.saved(0), w = ctx.saved(1);
          const Tensor& gout = ctx.grad();
          const bool want[3] = {ctx.needs(0), ctx.needs(1), ctx.needs(2)};
          if (!autograd::GradMode::is_enabled() && gout.numel() > 0) {
            Tensor gx = want[0] ? empty(x.sizes(), DType::Float32, x.device()) : Tensor();
            Tensor gw = want[1] ? empty(w.sizes(), DType::Float32, w.device()) : Tensor();
            Tensor gb = want[2] ? empty({g.co}, DType::Float32, w.device()) : Tensor();
            Tensor xd = dense(x), wd = dense(w), gd = dense(gout);
            auto ptr = [](Tensor& t) {
              return t.defined() ? static_cast<float*>(t.data_ptr()) : nullptr;
            };
            if (k.backward(g, static_cast<const float*>(xd.data_ptr()),
                           static_cast<const float*>(wd.data_ptr()),
                           static_cast<const float*>(gd.data_ptr()),
                           static_cast<const uint8_t*>(codes.data_ptr()), ptr(gx), ptr(gw),
                           ptr(gb)))
              return TensorList{gx, gw, gb};
          }
          return conv2d_grads(x, w, spread(gout, codes), {1, 1}, padding, {1, 1}, 1,
                              {want[0], want[1], want[2]});
        });
  }
  return out;
}

}  // namespace ranvier
