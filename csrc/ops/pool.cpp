// Max-pooling index ops (see pool.h): checks, the window tables, the kernel call.
#include "ops/pool.h"

#include "ops/copy.h"

namespace ranvier {

KernelSlot<MaxPoolIndicesKernel> max_pool_indices_kernel;

namespace {

Tensor dense(const Tensor& t) { return t.is_contiguous() ? t : contiguous_clone(t); }

void check_input(const Tensor& input, const char* op) {
  RV_CHECK(input.dim() == 4, op, "(): expected a 4-D input [N, C, H, W], but got input of size ",
           shape_str(input.sizes()));
  RV_CHECK_TYPE(input.dtype() == DType::Float32 || input.dtype() == DType::Float64, op,
                "(): expected a float32 or float64 input, but got ", dtype_name(input.dtype()));
}

// PyTorch's pooling output length (ceil_mode drops a last window starting in the padding).
int64_t pool_len(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, bool ceil_mode) {
  int64_t span = in + 2 * p - d * (k - 1) - 1;
  int64_t n = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
  if (ceil_mode && (n - 1) * s >= in + p) --n;
  return n;
}

Tensor run(const Tensor& input, const PoolWindows& rows, const PoolWindows& cols,
           const char* op) {
  const Shape& sz = input.sizes();
  int64_t oh = int64_t(rows.start.size()), ow = int64_t(cols.start.size());
  Tensor out = empty({sz[0], sz[1], oh, ow}, DType::Int64, input.device());
  if (out.numel() == 0) return out;
  Tensor x = dense(input);
  MaxPoolSpec s;
  s.dtype = input.dtype();
  s.planes = sz[0] * sz[1];
  s.h = sz[2];
  s.w = sz[3];
  s.rows = &rows;
  s.cols = &cols;
  max_pool_indices_kernel.get(input.device(), op)(s, static_cast<const char*>(x.data_ptr()),
                                                  out.data<int64_t>());
  return out;
}

}  // namespace

Tensor max_pool2d_indices(const Tensor& input, Pair kernel, Pair stride, Pair padding,
                          Pair dilation, bool ceil_mode) {
  const char* op = "max_pool2d";
  check_input(input, op);
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
  const Shape& sz = input.sizes();
  RV_CHECK(sz[2] > 0 && sz[3] > 0, op, "(): expected non-empty spatial dims, but got input of "
           "size ", shape_str(sz));
  PoolWindows w[2];
  for (int i = 0; i < 2; ++i) {
    int64_t n = pool_len(sz[2 + i], kernel[i], stride[i], padding[i], dilation[i], ceil_mode);
    RV_CHECK(n > 0, op, "(): output size is too small: kernel_size (", kernel[0], ", ",
             kernel[1], ") with dilation (", dilation[0], ", ", dilation[1],
             ") does not fit the padded input ", shape_str(sz));
    w[i].step = dilation[i];
    for (int64_t j = 0; j < n; ++j) {
      w[i].start.push_back(j * stride[i] - padding[i]);
      w[i].count.push_back(kernel[i]);
    }
  }
  return run(input, w[0], w[1], op);
}

Tensor adaptive_max_pool2d_indices(const Tensor& input, Pair output_size) {
  const char* op = "adaptive_max_pool2d";
  check_input(input, op);
  const Shape& sz = input.sizes();
  PoolWindows w[2];
  for (int i = 0; i < 2; ++i) {
    int64_t in = sz[2 + i], n = output_size[i];
    RV_CHECK(n >= 0, op, "(): output_size must be non-negative, but got (", output_size[0], ", ",
             output_size[1], ")");
    RV_CHECK(in > 0 || n == 0, op, "(): expected non-empty spatial dims, but got input of size ",
             shape_str(sz));
    for (int64_t j = 0; j < n; ++j) {
      int64_t a = (j * in) / n, b = ((j + 1) * in + n - 1) / n;
      w[i].start.push_back(a);
      w[i].count.push_back(b - a);
    }
  }
  return run(input, w[0], w[1], op);
}

}  // namespace ranvier
