// The fused convolution ops conv2d and conv_transpose2d (see ops/conv.h): checks, output
// allocation, one kernel call, and a hand-written backward. Each op's input gradient is the
// other op (recorded, so it is differentiable again); the weight gradient is one fused kernel
// call, or, when the backward itself records a graph (create_graph=True), im2col + matmul ops
// so that double backward works; the bias gradient is a sum.
#include "autograd/function.h"
#include "ops/conv.h"
#include "ops/copy.h"
#include "ops/matmul.h"
#include "ops/reduce.h"
#include "ops/shape.h"

namespace ranvier {

using autograd::BackwardContext;
using autograd::TensorList;

KernelSlot<ConvForwardKernel> conv_forward_kernel{"conv_forward"};
KernelSlot<ConvBackwardDataKernel> conv_backward_data_kernel{"conv_backward_data"};
KernelSlot<ConvWeightGradKernel> conv_weight_grad_kernel{"conv_weight_grad"};
KernelSlot<ConvBackwardKernel> conv_backward_kernel{"conv_backward"};

namespace {

Tensor dense(const Tensor& t) { return t.is_contiguous() ? t : contiguous_clone(t); }

const void* ptr_or_null(const Tensor& t) { return t.defined() ? t.data_ptr() : nullptr; }

// Runs a forward-shaped kernel (conv forward or its transpose: input, weight, optional bias ->
// out) on dense copies of the operands, when out is not empty.
using InWeightBiasKernel = void (*)(const ConvGeom&, const char*, const char*, const char*, char*);
void run_kernel(InWeightBiasKernel k, const ConvGeom& g, const Tensor& input,
                const Tensor& weight, const Tensor& bias, Tensor& out) {
  if (out.numel() == 0) return;
  Tensor x = dense(input), w = dense(weight), b = bias.defined() ? dense(bias) : bias;
  k(g, static_cast<const char*>(x.data_ptr()), static_cast<const char*>(w.data_ptr()),
    static_cast<const char*>(ptr_or_null(b)), static_cast<char*>(out.data_ptr()));
}

struct Params {
  Pair stride, padding, dilation;
  int64_t groups;
};

ConvGeom geom(DType dt, int64_t n, const Params& p, int64_t ci, int64_t h, int64_t w,
              int64_t co, int64_t oh, int64_t ow, int64_t kh, int64_t kw) {
  ConvGeom g;
  g.dtype = dt;
  g.n = n;
  g.groups = p.groups;
  g.ci = ci;
  g.h = h;
  g.w = w;
  g.co = co;
  g.oh = oh;
  g.ow = ow;
  g.kh = kh;
  g.kw = kw;
  g.dh = p.dilation[0];
  g.dw = p.dilation[1];
  g.ph = p.padding[0];
  g.pw = p.padding[1];
  g.sh = p.stride[0];
  g.sw = p.stride[1];
  return g;
}

int64_t conv_len(int64_t in, int64_t k, int64_t d, int64_t p, int64_t s) {
  return (in + 2 * p - d * (k - 1) - 1) / s + 1;
}

void check_common(const char* op, const Tensor& input, const Tensor& weight, const Tensor& bias,
                  const Params& p) {
  RV_CHECK(input.dim() == 4, op, ": expected a 4-D input [N, C, H, W], but got input of size ",
           shape_str(input.sizes()));
  RV_CHECK(weight.dim() == 4, op, ": expected a 4-D weight, but got weight of size ",
           shape_str(weight.sizes()));
  RV_CHECK_TYPE(is_floating(input.dtype()), op,
                ": expected float32 or float64 (or float16/bfloat16) tensors, but got ",
                dtype_name(input.dtype()));
  RV_CHECK_TYPE(weight.dtype() == input.dtype() &&
                    (!bias.defined() || bias.dtype() == input.dtype()),
                op, ": expected input, weight and bias of one dtype, but got input ",
                dtype_name(input.dtype()), ", weight ", dtype_name(weight.dtype()),
                bias.defined() ? ", bias " : "", bias.defined() ? dtype_name(bias.dtype()) : "");
  RV_CHECK(p.groups > 0, op, ": non-positive groups is not supported (groups=", p.groups, ")");
  for (int i = 0; i < 2; ++i) {
    RV_CHECK(p.stride[i] > 0, op, ": non-positive stride is not supported (stride=(",
             p.stride[0], ", ", p.stride[1], "))");
    RV_CHECK(p.dilation[i] > 0, op, ": dilation should be greater than zero (dilation=(",
             p.dilation[0], ", ", p.dilation[1], "))");
    RV_CHECK(p.padding[i] >= 0, op, ": negative padding is not supported (padding=(",
             p.padding[0], ", ", p.padding[1], "))");
    RV_CHECK(weight.sizes()[2 + i] > 0, op, ": kernel size should be greater than zero, but got "
             "weight of size ", shape_str(weight.sizes()));
  }
  RV_CHECK(weight.sizes()[0] % p.groups == 0, op, ": Given groups=", p.groups,
           ", expected weight to be divisible by ", p.groups, " at dimension 0, but got weight "
           "of size ", shape_str(weight.sizes()), " instead");
  RV_CHECK(input.device() == weight.device() && (!bias.defined() ||
                                                 bias.device() == input.device()),
           op, ": expected input, weight and bias on one device");
}

Tensor conv2d_impl(const Tensor& input, const Tensor& weight, const Tensor& bias, const Params& p);

// float16 / bfloat16 (any device): the op runs in float32 between two differentiable casts, so
// the output and the gradients come back in the inputs' dtype.
template <class F>
Tensor via_float32(const Tensor& input, const Tensor& weight, const Tensor& bias, F&& f) {
  auto up = [](const Tensor& t) { return t.defined() ? to_dtype(t, DType::Float32) : t; };
  return to_dtype(f(up(input), up(weight), up(bias)), input.dtype());
}
Tensor conv_transpose2d_impl(const Tensor& input, const Tensor& weight, const Tensor& bias,
                             const Params& p, Pair out_size);

// Fused weight gradient: sum over n of mat[n] @ im2col(img[n])^T, shaped like `weight`.
Tensor weight_grad_fused(const Tensor& img, const Tensor& mat, const Shape& wshape,
                         const ConvGeom& g) {
  Tensor dw = empty(wshape, img.dtype(), img.device());
  if (dw.numel() == 0) return dw;
  Tensor x = dense(img), m = dense(mat);
  conv_weight_grad_kernel.get(img.device(), "conv2d")(g, static_cast<const char*>(x.data_ptr()),
                                                       static_cast<const char*>(m.data_ptr()),
                                                       static_cast<char*>(dw.data_ptr()));
  return dw;
}

// The same with ops (differentiable): cols [N, G, K, L] from im2col of img, mat [N, G, M, L].
Tensor weight_grad_composed(const Tensor& img, const Tensor& mat, const Shape& wshape,
                            const ConvGeom& g) {
  const int64_t n = g.n, G = g.groups, L = g.oh * g.ow;
  Tensor cols = im2col(img, {g.kh, g.kw}, {g.dh, g.dw}, {g.ph, g.pw}, {g.sh, g.sw});
  const int64_t bh = conv_len(g.h, g.kh, g.dh, g.ph, g.sh);
  const int64_t bw = conv_len(g.w, g.kw, g.dw, g.pw, g.sw);
  if (bh != g.oh || bw != g.ow) {  // transposed conv with output_padding: drop extra blocks
    cols = reshape(cols, {n, cols.sizes()[1], bh, bw});
    cols = slice(slice(cols, 2, 0, g.oh), 3, 0, g.ow);
  }
  cols = reshape(cols, {n, G, g.ci / G * g.kh * g.kw, L});
  Tensor m = reshape(mat, {n, G, g.co / G, L});
  return reshape(sum(matmul(m, transpose(cols, 2, 3)), {0}), wshape);
}

Tensor weight_grad(const Tensor& img, const Tensor& mat, const Shape& wshape, const ConvGeom& g) {
  if (autograd::GradMode::is_enabled()) return weight_grad_composed(img, mat, wshape, g);
  return weight_grad_fused(img, mat, wshape, g);
}

// The one-pass backward kernel of a device, or null (then the backward runs op by op).
ConvBackwardKernel fused_backward(Device d) {
  if (d.is_cuda()) return conv_backward_kernel.fn[int(d.type)];
  return conv_backward_kernel.get(d, "conv2d");
}

// conv2d's input, weight and bias gradients (those asked for) in one kernel call.
void fused_backward_call(ConvBackwardKernel k, const ConvGeom& g, const Tensor& input,
                         const Tensor& weight, const Tensor& grad, bool want_x, bool want_w,
                         bool want_b, Tensor& gx, Tensor& gw, Tensor& gb) {
  const Device dev = grad.device();
  if (want_x) gx = empty(input.sizes(), input.dtype(), dev);
  if (want_w) gw = empty(weight.sizes(), weight.dtype(), dev);
  if (want_b) gb = empty({g.co}, grad.dtype(), dev);
  Tensor x = dense(input), w = dense(weight), m = dense(grad);
  auto out = [](const Tensor& t) {
    return t.defined() && t.numel() > 0 ? static_cast<char*>(t.data_ptr()) : nullptr;
  };
  char *px = out(gx), *pw = out(gw), *pb = out(gb);
  if (!px && !pw && !pb) return;
  k(g, static_cast<const char*>(x.data_ptr()), static_cast<const char*>(w.data_ptr()),
    static_cast<const char*>(m.data_ptr()), px, pw, pb);
}

// conv2d's gradients (those wanted) for the output gradient gout: one fused kernel call, or
// ops when the backward records a graph or the device has no fused kernel.
TensorList grads_impl(const Tensor& x, const Tensor& w, const Tensor& gout, const ConvGeom& g,
                      const Params& p, std::array<bool, 3> want) {
  Tensor gx, gw, gb;
  if (!autograd::GradMode::is_enabled()) {
    ConvBackwardKernel k = fused_backward(gout.device());
    if (k) {
      fused_backward_call(k, g, x, w, gout, want[0], want[1], want[2], gx, gw, gb);
      return TensorList{gx, gw, gb};
    }
  }
  if (want[0]) gx = conv_transpose2d_impl(gout, w, Tensor(), p, {g.h, g.w});
  if (want[1]) gw = weight_grad(x, gout, w.sizes(), g);
  if (want[2]) gb = sum(gout, {0, 2, 3});
  return TensorList{gx, gw, gb};
}

Tensor conv2d_impl(const Tensor& input, const Tensor& weight, const Tensor& bias,
                   const Params& p) {
  const Shape& xs = input.sizes();
  const Shape& ws = weight.sizes();
  const int64_t oh = conv_len(xs[2], ws[2], p.dilation[0], p.padding[0], p.stride[0]);
  const int64_t ow = conv_len(xs[3], ws[3], p.dilation[1], p.padding[1], p.stride[1]);
  ConvGeom g = geom(input.dtype(), xs[0], p, xs[1], xs[2], xs[3], ws[0], oh, ow, ws[2], ws[3]);
  Tensor out = empty({xs[0], ws[0], oh, ow}, input.dtype(), input.device());
  run_kernel(conv_forward_kernel.get(input.device(), "conv2d"), g, input, weight, bias, out);
  if (autograd::needs_grad({input, weight, bias})) {
    autograd::record("ConvolutionBackward0", {input, weight, bias}, {&out}, {input, weight}, {},
                     [=](BackwardContext& ctx) {
                       return grads_impl(ctx.saved(0), ctx.saved(1), ctx.grad(), g, p,
                                         {ctx.needs(0), ctx.needs(1), ctx.needs(2)});
                     });
  }
  return out;
}

Tensor conv_transpose2d_impl(const Tensor& input, const Tensor& weight, const Tensor& bias,
                             const Params& p, Pair out_size) {
  const Shape& xs = input.sizes();
  const Shape& ws = weight.sizes();
  const int64_t cout = ws[1] * p.groups;
  // image side: the output [N, cout, H, W]; matrix side: the input [N, cin, h * w]
  ConvGeom g = geom(input.dtype(), xs[0], p, cout, out_size[0], out_size[1], xs[1], xs[2], xs[3],
                    ws[2], ws[3]);
  Tensor out = empty({xs[0], cout, out_size[0], out_size[1]}, input.dtype(), input.device());
  run_kernel(conv_backward_data_kernel.get(input.device(), "conv_transpose2d"), g, input, weight,
             bias, out);
  if (autograd::needs_grad({input, weight, bias})) {
    Pair in_size{xs[2], xs[3]};
    autograd::record("ConvolutionBackward0", {input, weight, bias}, {&out}, {input, weight}, {},
                     [=](BackwardContext& ctx) {
                       const Tensor& gout = ctx.grad();
                       Tensor x = ctx.saved(0), w = ctx.saved(1);
                       Tensor gx, gw, gb;
                       if (ctx.needs(0)) {
                         gx = conv2d_impl(gout, w, Tensor(), p);
                         if (gx.sizes()[2] != in_size[0] || gx.sizes()[3] != in_size[1])
                           gx = slice(slice(gx, 2, 0, in_size[0]), 3, 0, in_size[1]);
                       }
                       if (ctx.needs(1)) gw = weight_grad(gout, x, w.sizes(), g);
                       if (ctx.needs(2)) gb = sum(gout, {0, 2, 3});
                       return TensorList{gx, gw, gb};
                     });
  }
  return out;
}

}  // namespace

std::vector<Tensor> conv2d_grads(const Tensor& input, const Tensor& weight, const Tensor& gout,
                                 Pair stride, Pair padding, Pair dilation, int64_t groups,
                                 std::array<bool, 3> want) {
  const Params p{stride, padding, dilation, groups};
  const Shape& xs = input.sizes();
  const Shape& ws = weight.sizes();
  const ConvGeom g = geom(input.dtype(), xs[0], p, xs[1], xs[2], xs[3], ws[0], gout.sizes()[2],
                          gout.sizes()[3], ws[2], ws[3]);
  return grads_impl(input, weight, gout, g, p, want);
}

Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias, Pair stride,
              Pair padding, Pair dilation, int64_t groups) {
  const char* op = "conv2d";
  Params p{stride, padding, dilation, groups};
  check_common(op, input, weight, bias, p);
  const Shape& xs = input.sizes();
  const Shape& ws = weight.sizes();
  RV_CHECK(xs[1] == ws[1] * groups, op, ": Given groups=", groups, ", weight of size ",
           shape_str(ws), ", expected input", shape_str(xs), " to have ", ws[1] * groups,
           " channels, but got ", xs[1], " channels instead");
  RV_CHECK(!bias.defined() || (bias.dim() == 1 && bias.sizes()[0] == ws[0]), op,
           ": expected bias to be 1-D with ", ws[0], " elements, but got bias of size ",
           bias.defined() ? shape_str(bias.sizes()) : std::string());
  for (int i = 0; i < 2; ++i) {
    const int64_t padded = xs[2 + i] + 2 * padding[i];
    const int64_t span = dilation[i] * (ws[2 + i] - 1) + 1;
    RV_CHECK(padded >= span, op, ": Calculated padded input size per channel: (",
             xs[2] + 2 * padding[0], " x ", xs[3] + 2 * padding[1], "). Kernel size: (",
             dilation[0] * (ws[2] - 1) + 1, " x ", dilation[1] * (ws[3] - 1) + 1,
             "). Kernel size can't be greater than actual input size");
  }
  if (is_reduced_float(input.dtype()))
    return via_float32(input, weight, bias, [&](const Tensor& x, const Tensor& w, const Tensor& b) {
      return conv2d_impl(x, w, b, p);
    });
  return conv2d_impl(input, weight, bias, p);
}

Tensor conv_transpose2d(const Tensor& input, const Tensor& weight, const Tensor& bias,
                        Pair stride, Pair padding, Pair output_padding, Pair dilation,
                        int64_t groups) {
  const char* op = "conv_transpose2d";
  Params p{stride, padding, dilation, groups};
  check_common(op, input, weight, bias, p);
  const Shape& xs = input.sizes();
  const Shape& ws = weight.sizes();
  RV_CHECK(xs[1] == ws[0], op, ": Given transposed=1, weight of size ", shape_str(ws),
           ", expected input", shape_str(xs), " to have ", ws[0], " channels, but got ", xs[1],
           " channels instead");
  const int64_t cout = ws[1] * groups;
  RV_CHECK(!bias.defined() || (bias.dim() == 1 && bias.sizes()[0] == cout), op,
           ": expected bias to be 1-D with ", cout, " elements, but got bias of size ",
           bias.defined() ? shape_str(bias.sizes()) : std::string());
  Pair out_size;
  for (int i = 0; i < 2; ++i) {
    RV_CHECK(output_padding[i] >= 0 &&
                 (output_padding[i] < stride[i] || output_padding[i] < dilation[i]),
             op, ": output padding must be smaller than either stride or dilation, but got "
             "output_padding=(", output_padding[0], ", ", output_padding[1], "), stride=(",
             stride[0], ", ", stride[1], "), dilation=(", dilation[0], ", ", dilation[1], ")");
    out_size[i] = (xs[2 + i] - 1) * stride[i] - 2 * padding[i] +
                  dilation[i] * (ws[2 + i] - 1) + output_padding[i] + 1;
  }
  RV_CHECK(out_size[0] > 0 && out_size[1] > 0, op, ": Given input size ", shape_str(xs),
           ", calculated output size (", out_size[0], " x ", out_size[1], ") is too small");
  if (is_reduced_float(input.dtype()))
    return via_float32(input, weight, bias, [&](const Tensor& x, const Tensor& w, const Tensor& b) {
      return conv_transpose2d_impl(x, w, b, p, out_size);
    });
  return conv_transpose2d_impl(input, weight, bias, p, out_size);
}

}  // namespace ranvier
