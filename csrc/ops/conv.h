// Convolution building blocks: im2col (PyTorch's unfold) and col2im (fold), the adjoint pair
// on which conv1d/conv2d and their transposes are built (python/ranvier/nn/_functional_conv.py:
// columns @ weight per group, GEMM on OpenBLAS through matmul). Each op's backward is the other
// op, so gradients of any order come for free. Images are [N, C, H, W]; columns are
// [N, C * kh * kw, oh * ow] with the channel the slowest of the (c, ki, kj) row index.
#pragma once
#include <array>

#include "core/dispatch.h"
#include "core/tensor.h"

namespace ranvier {

using Pair = std::array<int64_t, 2>;

// [N, C, H, W] -> [N, C*kh*kw, oh*ow]; padding is zeros.
Tensor im2col(const Tensor& input, Pair kernel, Pair dilation, Pair padding, Pair stride);
// [N, C*kh*kw, L] -> [N, C, H, W], summing overlapping entries (the adjoint of im2col).
Tensor col2im(const Tensor& cols, Pair output_size, Pair kernel, Pair dilation, Pair padding,
              Pair stride);

// What the im2col/col2im kernels see: `planes` = N*C images of h x w, contiguous.
struct Im2ColSpec {
  DType dtype = DType::Float32;
  int64_t planes = 0, h = 0, w = 0, oh = 0, ow = 0;
  int64_t kh = 1, kw = 1, dh = 1, dw = 1, ph = 0, pw = 0, sh = 1, sw = 1;
};
// img [planes, h, w] -> col [planes, kh*kw, oh*ow].
using Im2ColKernel = void (*)(const Im2ColSpec& s, const char* img, char* col);
// col [planes, kh*kw, oh*ow] -> img [planes, h, w] (overwritten, overlapping entries summed).
using Col2ImKernel = void (*)(const Im2ColSpec& s, const char* col, char* img);

extern KernelSlot<Im2ColKernel> im2col_kernel;
extern KernelSlot<Col2ImKernel> col2im_kernel;

}  // namespace ranvier
