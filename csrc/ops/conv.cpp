// im2col / col2im ops (see conv.h): argument checks, output allocation, the kernel call and
// the backward, which is the other op of the pair.
#include "ops/conv.h"

#include "autograd/function.h"
#include "ops/copy.h"
#include "ops/shape.h"

namespace ranvier {

using autograd::BackwardContext;
using autograd::TensorList;

KernelSlot<Im2ColKernel> im2col_kernel{"im2col"};
KernelSlot<Col2ImKernel> col2im_kernel{"col2im"};

namespace {

// A contiguous tensor with t's values (t itself when already contiguous); no history.
Tensor dense(const Tensor& t) { return t.is_contiguous() ? t : contiguous_clone(t); }

void check_geometry(const char* op, Pair kernel, Pair dilation, Pair padding, Pair stride) {
  for (int i = 0; i < 2; ++i) {
    RV_CHECK(kernel[i] > 0, op, "(): kernel size should be greater than zero, but got (",
             kernel[0], ", ", kernel[1], ")");
    RV_CHECK(dilation[i] > 0, op, "(): dilation should be greater than zero, but got (",
             dilation[0], ", ", dilation[1], ")");
    RV_CHECK(padding[i] >= 0, op, "(): padding should be non-negative, but got (", padding[0],
             ", ", padding[1], ")");
    RV_CHECK(stride[i] > 0, op, "(): stride should be greater than zero, but got (", stride[0],
             ", ", stride[1], ")");
  }
}

int64_t out_len(int64_t in, int64_t k, int64_t d, int64_t p, int64_t s) {
  int64_t span = in + 2 * p - d * (k - 1) - 1;
  return span < 0 ? 0 : span / s + 1;
}

Im2ColSpec make_spec(DType dt, int64_t planes, int64_t h, int64_t w, Pair kernel, Pair dilation,
                     Pair padding, Pair stride) {
  Im2ColSpec s;
  s.dtype = dt;
  s.planes = planes;
  s.h = h;
  s.w = w;
  s.kh = kernel[0];
  s.kw = kernel[1];
  s.dh = dilation[0];
  s.dw = dilation[1];
  s.ph = padding[0];
  s.pw = padding[1];
  s.sh = stride[0];
  s.sw = stride[1];
  s.oh = out_len(h, s.kh, s.dh, s.ph, s.sh);
  s.ow = out_len(w, s.kw, s.dw, s.pw, s.sw);
  return s;
}

}  // namespace

Tensor im2col(const Tensor& input, Pair kernel, Pair dilation, Pair padding, Pair stride) {
  check_geometry("im2col", kernel, dilation, padding, stride);
  RV_CHECK(input.dim() == 4, "im2col(): expected a 4-D input [N, C, H, W], but got input of "
           "size ", shape_str(input.sizes()));
  RV_CHECK_TYPE(input.dtype() == DType::Float32 || input.dtype() == DType::Float64,
                "im2col(): expected a float32 or float64 input, but got ",
                dtype_name(input.dtype()));
  const Shape& sz = input.sizes();
  int64_t n = sz[0], c = sz[1], h = sz[2], w = sz[3];
  Im2ColSpec s = make_spec(input.dtype(), n * c, h, w, kernel, dilation, padding, stride);
  RV_CHECK(h + 2 * s.ph >= s.dh * (s.kh - 1) + 1 && w + 2 * s.pw >= s.dw * (s.kw - 1) + 1,
           "im2col(): kernel size (", s.kh, ", ", s.kw, ") with dilation (", s.dh, ", ", s.dw,
           ") is larger than the padded input of size (", h + 2 * s.ph, ", ", w + 2 * s.pw,
           ") for input ", shape_str(sz));
  Tensor x = dense(input);
  Tensor out = empty({n, c * s.kh * s.kw, s.oh * s.ow}, input.dtype(), input.device());
  if (out.numel() > 0)
    im2col_kernel.get(input.device(), "im2col")(s, static_cast<const char*>(x.data_ptr()),
                                                static_cast<char*>(out.data_ptr()));
  if (autograd::needs_grad({input})) {
    Pair hw{h, w};
    autograd::record("Im2ColBackward0", {input}, {&out}, {}, {},
                     [=](BackwardContext& ctx) {
                       return TensorList{col2im(ctx.grad(), hw, kernel, dilation, padding,
                                                stride)};
                     });
  }
  return out;
}

Tensor col2im(const Tensor& cols, Pair output_size, Pair kernel, Pair dilation, Pair padding,
              Pair stride) {
  check_geometry("col2im", kernel, dilation, padding, stride);
  RV_CHECK(cols.dim() == 3, "col2im(): expected a 3-D input [N, C*kh*kw, L], but got input of "
           "size ", shape_str(cols.sizes()));
  RV_CHECK_TYPE(cols.dtype() == DType::Float32 || cols.dtype() == DType::Float64,
                "col2im(): expected a float32 or float64 input, but got ",
                dtype_name(cols.dtype()));
  RV_CHECK(output_size[0] >= 0 && output_size[1] >= 0, "col2im(): output size must be "
           "non-negative, but got (", output_size[0], ", ", output_size[1], ")");
  const Shape& sz = cols.sizes();
  int64_t kk = kernel[0] * kernel[1];
  RV_CHECK(sz[1] % kk == 0, "col2im(): expected size of input's dimension 1 to be divisible by "
           "the product of kernel_size (", kk, "), but got input of size ", shape_str(sz));
  int64_t n = sz[0], c = sz[1] / kk;
  Im2ColSpec s = make_spec(cols.dtype(), n * c, output_size[0], output_size[1], kernel,
                           dilation, padding, stride);
  RV_CHECK(s.oh * s.ow == sz[2], "col2im(): expected input's dimension 2 to match the number "
           "of sliding blocks ", s.oh * s.ow, " (", s.oh, " * ", s.ow, ") for output_size (",
           output_size[0], ", ", output_size[1], "), but got input of size ", shape_str(sz));
  Tensor x = dense(cols);
  Tensor out = empty({n, c, output_size[0], output_size[1]}, cols.dtype(), cols.device());
  if (out.numel() > 0)
    col2im_kernel.get(cols.device(), "col2im")(s, static_cast<const char*>(x.data_ptr()),
                                               static_cast<char*>(out.data_ptr()));
  if (autograd::needs_grad({cols})) {
    autograd::record("Col2ImBackward0", {cols}, {&out}, {}, {}, [=](BackwardContext& ctx) {
      return TensorList{im2col(ctx.grad(), kernel, dilation, padding, stride)};
    });
  }
  return out;
}

}  // namespace ranvier
