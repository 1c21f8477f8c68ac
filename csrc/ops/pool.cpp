// Pooling ops (see pool.h): checks, the window tables, the kernel calls and the backward ops.
#include "ops/pool.h"

#include "autograd/function.h"
#include "ops/copy.h"
#include "ops/indexing.h"
#include "ops/shape.h"

namespace ranvier {

using autograd::BackwardContext;
using autograd::TensorList;

KernelSlot<MaxPoolKernel> max_pool_kernel{"max_pool"};
KernelSlot<MaxPoolBackwardKernel> max_pool_backward_kernel{"max_pool_backward"};
KernelSlot<AvgPoolKernel> avg_pool_kernel{"avg_pool"};
KernelSlot<AvgPoolBackwardKernel> avg_pool_backward_kernel{"avg_pool_backward"};

namespace {

using Windows = std::shared_ptr<const PoolWindows>;

Tensor dense(const Tensor& t) { return t.is_contiguous() ? t : contiguous_clone(t); }

void check_input(const Tensor& input, const char* op) {
  RV_CHECK(input.dim() == 4, op, "(): expected a 4-D input [N, C, H, W], but got input of size ",
           shape_str(input.sizes()));
  RV_CHECK_TYPE(is_floating(input.dtype()), op,
                "(): expected a float32 or float64 (or float16/bfloat16) input, but got ",
                dtype_name(input.dtype()));
}

void check_window_args(const char* op, Pair kernel, Pair stride, Pair padding, Pair dilation) {
  for (int i = 0; i < 2; ++i) {
    RV_CHECK(kernel[i] > 0, op, "(): kernel_size must be greater than zero, but got (", kernel[0],
             ", ", kernel[1], ")");
    RV_CHECK(stride[i] > 0, op, "(): stride must be greater than zero, but got (", stride[0],
             ", ", stride[1], ")");
    RV_CHECK(dilation[i] > 0, op, "(): dilation must be greater than zero, but got (",
             dilation[0], ", ", dilation[1], ")");
    RV_CHECK(padding[i] >= 0 && padding[i] <= kernel[i] / 2, op, "(): pad should be at most "
             "half of effective kernel size, but got pad=(", padding[0], ", ", padding[1],
             "), kernel_size=(", kernel[0], ", ", kernel[1], ")");
  }
}

// PyTorch's pooling output length (ceil_mode drops a last window starting in the padding).
int64_t pool_len(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, bool ceil_mode) {
  const int64_t span = in + 2 * p - d * (k - 1) - 1;
  auto floor_div = [](int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); };
  int64_t n = (ceil_mode ? -floor_div(-span, s) : floor_div(span, s)) + 1;
  if (ceil_mode && (n - 1) * s >= in + p) --n;
  return n;
}

PoolSpec make_spec(const Tensor& x, const PoolWindows& r, const PoolWindows& c, double divisor) {
  const Shape& sz = x.sizes();
  PoolSpec s;
  s.dtype = x.dtype();
  s.planes = sz[0] * sz[1];
  s.h = sz[2];
  s.w = sz[3];
  s.rows = &r;
  s.cols = &c;
  s.divisor = divisor;
  return s;
}

Tensor max_pool_backward(const Tensor& grad, const Tensor& idx, const Shape& in_sizes,
                         const Windows& r, const Windows& c, const char* op);

// Values and indices; the values' backward scatters to the indices.
// float16 / bfloat16 pool in float32 between two differentiable casts (on every device).
bool via_float32(const Tensor& input) { return is_reduced_float(input.dtype()); }

std::tuple<Tensor, Tensor> max_pool_windows(const Tensor& input, const Windows& r,
                                            const Windows& c, const char* op) {
  if (via_float32(input)) {
    auto res = max_pool_windows(to_dtype(input, DType::Float32), r, c, op);
    return {to_dtype(std::get<0>(res), input.dtype()), std::get<1>(res)};
  }
  const Shape& sz = input.sizes();
  const int64_t oh = int64_t(r->start.size()), ow = int64_t(c->start.size());
  Tensor out = empty({sz[0], sz[1], oh, ow}, input.dtype(), input.device());
  Tensor idx = empty({sz[0], sz[1], oh, ow}, DType::Int64, input.device());
  if (out.numel() > 0) {
    Tensor x = dense(input);
    max_pool_kernel.get(input.device(), op)(make_spec(x, *r, *c, 0.0),
                                            static_cast<const char*>(x.data_ptr()),
                                            static_cast<char*>(out.data_ptr()),
                                            idx.data<int64_t>());
  }
  if (autograd::needs_grad({input})) {
    Shape in_sizes = sz;
    autograd::record("MaxPool2DWithIndicesBackward0", {input}, {&out}, {idx}, {},
                     [=](BackwardContext& ctx) {
                       return TensorList{
                           max_pool_backward(ctx.grad(), ctx.saved(0), in_sizes, r, c, op)};
                     });
  }
  return {out, idx};
}

// grad_in [N, C, H, W]; its own backward gathers at the indices.
Tensor max_pool_backward(const Tensor& grad, const Tensor& idx, const Shape& in_sizes,
                         const Windows& r, const Windows& c, const char* op) {
  Tensor gin = empty(in_sizes, grad.dtype(), grad.device());
  if (gin.numel() > 0) {
    Tensor g = dense(grad);
    PoolSpec s = make_spec(gin, *r, *c, 0.0);
    max_pool_backward_kernel.get(grad.device(), op)(s, static_cast<const char*>(g.data_ptr()),
                                                    idx.data<int64_t>(),
                                                    static_cast<char*>(gin.data_ptr()));
  }
  if (autograd::needs_grad({grad})) {
    const int64_t n = in_sizes[0], ch = in_sizes[1];
    autograd::record("MaxPool2DWithIndicesBackwardBackward0", {grad}, {&gin}, {idx}, {},
                     [=](BackwardContext& ctx) {
                       Tensor i = ctx.saved(0);
                       Tensor flat = reshape(ctx.grad(), {n, ch, in_sizes[2] * in_sizes[3]});
                       Tensor got = gather(flat, 2, reshape(i, {n, ch, i.numel() / (n * ch)}));
                       return TensorList{reshape(got, i.sizes())};
                     });
  }
  return gin;
}

Tensor avg_pool_backward(const Tensor& grad, const Shape& in_sizes, const Windows& r,
                         const Windows& c, double divisor, const char* op);

Tensor avg_pool_windows(const Tensor& input, const Windows& r, const Windows& c, double divisor,
                        const char* op) {
  if (via_float32(input))
    return to_dtype(avg_pool_windows(to_dtype(input, DType::Float32), r, c, divisor, op),
                    input.dtype());
  const Shape& sz = input.sizes();
  const int64_t oh = int64_t(r->start.size()), ow = int64_t(c->start.size());
  Tensor out = empty({sz[0], sz[1], oh, ow}, input.dtype(), input.device());
  if (out.numel() > 0) {
    Tensor x = dense(input);
    avg_pool_kernel.get(input.device(), op)(make_spec(x, *r, *c, divisor),
                                            static_cast<const char*>(x.data_ptr()),
                                            static_cast<char*>(out.data_ptr()));
  }
  if (autograd::needs_grad({input})) {
    Shape in_sizes = sz;
    autograd::record("AvgPool2DBackward0", {input}, {&out}, {}, {}, [=](BackwardContext& ctx) {
      return TensorList{avg_pool_backward(ctx.grad(), in_sizes, r, c, divisor, op)};
    });
  }
  return out;
}

// The adjoint of the average; its backward is the average again.
Tensor avg_pool_backward(const Tensor& grad, const Shape& in_sizes, const Windows& r,
                         const Windows& c, double divisor, const char* op) {
  Tensor gin = empty(in_sizes, grad.dtype(), grad.device());
  if (gin.numel() > 0) {
    Tensor g = dense(grad);
    avg_pool_backward_kernel.get(grad.device(), op)(make_spec(gin, *r, *c, divisor),
                                                    static_cast<const char*>(g.data_ptr()),
                                                    static_cast<char*>(gin.data_ptr()));
  }
  if (autograd::needs_grad({grad})) {
    autograd::record("AvgPool2DBackwardBackward0", {grad}, {&gin}, {}, {},
                     [=](BackwardContext& ctx) {
                       return TensorList{avg_pool_windows(ctx.grad(), r, c, divisor, op)};
                     });
  }
  return gin;
}

// PyTorch's adaptive windows: [floor(i * in / n), ceil((i + 1) * in / n)).
PoolWindows adaptive_windows(int64_t in, int64_t n) {
  PoolWindows w;
  for (int64_t j = 0; j < n; ++j) {
    int64_t a = (j * in) / n, b = ((j + 1) * in + n - 1) / n;
    w.start.push_back(a);
    w.count.push_back(b - a);
    w.div.push_back(double(b - a));
  }
  return w;
}

void check_adaptive(const char* op, const Tensor& input, Pair output_size) {
  check_input(input, op);
  const Shape& sz = input.sizes();
  RV_CHECK(output_size[0] >= 0 && output_size[1] >= 0, op, "(): output_size must be "
           "non-negative, but got (", output_size[0], ", ", output_size[1], ")");
  for (int i = 0; i < 2; ++i)
    RV_CHECK(sz[2 + i] > 0 || output_size[i] == 0, op, "(): expected non-empty spatial dims, "
             "but got input of size ", shape_str(sz));
}

}  // namespace

std::tuple<Tensor, Tensor> max_pool2d(const Tensor& input, Pair kernel, Pair stride,
                                      Pair padding, Pair dilation, bool ceil_mode) {
  const char* op = "max_pool2d";
  check_input(input, op);
  check_window_args(op, kernel, stride, padding, dilation);
  const Shape& sz = input.sizes();
  RV_CHECK(sz[2] > 0 && sz[3] > 0, op, "(): expected non-empty spatial dims, but got input of "
           "size ", shape_str(sz));
  PoolWindows w[2];
  for (int i = 0; i < 2; ++i) {
    int64_t n = pool_len(sz[2 + i], kernel[i], stride[i], padding[i], dilation[i], ceil_mode);
    RV_CHECK(n > 0, op, "(): Given input size ", shape_str(sz), ", calculated output size is "
             "too small: kernel_size (", kernel[0], ", ", kernel[1], ") with dilation (",
             dilation[0], ", ", dilation[1], ") does not fit the padded input");
    w[i].step = dilation[i];
    for (int64_t j = 0; j < n; ++j) {
      w[i].start.push_back(j * stride[i] - padding[i]);
      w[i].count.push_back(kernel[i]);
    }
  }
  return max_pool_windows(input, std::make_shared<const PoolWindows>(std::move(w[0])),
                          std::make_shared<const PoolWindows>(std::move(w[1])), op);
}

std::tuple<Tensor, Tensor> adaptive_max_pool2d(const Tensor& input, Pair output_size) {
  const char* op = "adaptive_max_pool2d";
  check_adaptive(op, input, output_size);
  const Shape& sz = input.sizes();
  return max_pool_windows(
      input, std::make_shared<const PoolWindows>(adaptive_windows(sz[2], output_size[0])),
      std::make_shared<const PoolWindows>(adaptive_windows(sz[3], output_size[1])), op);
}

Tensor avg_pool2d(const Tensor& input, Pair kernel, Pair stride, Pair padding, bool ceil_mode,
                  bool count_include_pad, int64_t divisor_override) {
  const char* op = "avg_pool2d";
  check_input(input, op);
  check_window_args(op, kernel, stride, padding, {1, 1});
  const Shape& sz = input.sizes();
  RV_CHECK(sz[2] > 0 && sz[3] > 0, op, "(): expected non-empty spatial dims, but got input of "
           "size ", shape_str(sz));
  PoolWindows w[2];
  for (int i = 0; i < 2; ++i) {
    const int64_t size = sz[2 + i], k = kernel[i], s = stride[i], p = padding[i];
    int64_t n = pool_len(size, k, s, p, 1, ceil_mode);
    RV_CHECK(n > 0, op, "(): Given input size ", shape_str(sz), ", calculated output size is "
             "too small for kernel_size (", kernel[0], ", ", kernel[1], ")");
    for (int64_t j = 0; j < n; ++j) {
      int64_t a = j * s - p, b = std::min(a + k, size + p);
      w[i].start.push_back(a);
      w[i].count.push_back(b - a);
      int64_t ca = std::max<int64_t>(a, 0), cb = std::min(b, size);
      w[i].div.push_back(double(count_include_pad ? b - a : cb - ca));
    }
  }
  return avg_pool_windows(input, std::make_shared<const PoolWindows>(std::move(w[0])),
                          std::make_shared<const PoolWindows>(std::move(w[1])),
                          double(divisor_override), op);
}

Tensor adaptive_avg_pool2d(const Tensor& input, Pair output_size) {
  const char* op = "adaptive_avg_pool2d";
  check_adaptive(op, input, output_size);
  const Shape& sz = input.sizes();
  return avg_pool_windows(
      input, std::make_shared<const PoolWindows>(adaptive_windows(sz[2], output_size[0])),
      std::make_shared<const PoolWindows>(adaptive_windows(sz[3], output_size[1])), 0.0, op);
}

}  // namespace ranvier
