// Convolution: the fused ops conv2d and conv_transpose2d (ops/conv2d.cpp; conv1d and the 1-D
// transpose run through them from python/ranvier/nn/_functional_conv.py), and the building
// blocks im2col (PyTorch's unfold) and col2im (fold), each the other's backward (ops/conv.cpp).
// Images are [N, C, H, W]; columns are [N, C * kh * kw, oh * ow] with the channel the slowest
// of the (c, ki, kj) row index.
#pragma once
#include <array>
#include <cstdint>
#include <vector>

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

// conv2d of input [N, C, H, W] with weight [C_out, C/groups, kh, kw] and optional bias
// [C_out] (an undefined tensor for none); symmetric zero padding.
Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias, Pair stride,
              Pair padding, Pair dilation, int64_t groups);
// Transposed conv2d (the adjoint of conv2d in its input) with weight [C_in, C_out/groups, kh,
// kw]; output (H - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1.
Tensor conv_transpose2d(const Tensor& input, const Tensor& weight, const Tensor& bias,
                        Pair stride, Pair padding, Pair output_padding, Pair dilation,
                        int64_t groups);

// conv2d's gradients {input, weight, bias} for the output gradient gout, each only where
// `want` says (else undefined); recorded as a graph when grad mode is on (double backward).
std::vector<Tensor> conv2d_grads(const Tensor& input, const Tensor& weight, const Tensor& gout,
                                 Pair stride, Pair padding, Pair dilation, int64_t groups,
                                 std::array<bool, 3> want);

// What the fused kernels see. The "image" side is the one im2col reads ([n, ci, h, w]); the
// "matrix" side is [n, co, oh * ow] (conv2d: input and output; conv_transpose2d: output and
// input). The weight is [groups, co / groups, ci / groups * kh * kw], contiguous. All buffers
// are contiguous; bias may be null.
struct ConvGeom {
  DType dtype = DType::Float32;
  int64_t n = 0, groups = 1;
  int64_t ci = 0, h = 0, w = 0;
  int64_t co = 0, oh = 0, ow = 0;
  int64_t kh = 1, kw = 1, dh = 1, dw = 1, ph = 0, pw = 0, sh = 1, sw = 1;
};
// mat[n] = W @ im2col(img[n]) (+ bias over co).
using ConvForwardKernel = void (*)(const ConvGeom& g, const char* img, const char* weight,
                                   const char* bias, char* mat);
// img[n] = col2im(W^T @ mat[n]) (+ bias over ci).
using ConvBackwardDataKernel = void (*)(const ConvGeom& g, const char* mat, const char* weight,
                                        const char* bias, char* img);
// dweight = sum over n (in a fixed order) of mat[n] @ im2col(img[n])^T.
using ConvWeightGradKernel = void (*)(const ConvGeom& g, const char* img, const char* mat,
                                      char* dweight);
// conv2d's whole backward in one pass over the batch, each output optional (null = not
// wanted): gimg[n] = col2im(W^T @ gmat[n]); dweight = sum over n of gmat[n] @ im2col(img[n])^T;
// dbias[o] = sum over n and positions of gmat[n, o]. Sums run in a fixed order.
using ConvBackwardKernel = void (*)(const ConvGeom& g, const char* img, const char* weight,
                                    const char* gmat, char* gimg, char* dweight, char* dbias);
extern KernelSlot<ConvBackwardKernel> conv_backward_kernel;
extern KernelSlot<ConvForwardKernel> conv_forward_kernel;
extern KernelSlot<ConvBackwardDataKernel> conv_backward_data_kernel;
extern KernelSlot<ConvWeightGradKernel> conv_weight_grad_kernel;

// Note [Fused patterns]: conv2d (3x3, stride 1) -> relu -> max_pool2d(2) as one op
// (ops/conv_relu_pool.cpp), where a backend has fused kernels for the conv's geometry;
// nn.Sequential runs its Conv2d, ReLU, MaxPool2d(2) runs through it. Returns an undefined
// tensor when the kernels do not apply to these operands (the caller then runs the three ops);
// the result and its gradients are bit for bit those of the three ops.
Tensor conv2d_relu_max_pool2d(const Tensor& input, const Tensor& weight, const Tensor& bias,
                              Pair padding);
// The fused kernels (kernels/cpu/conv_gemm.cpp). Not kernel slots: a device without them runs
// the pattern unfused, so they are optional per backend. The pooled output and `codes` (one
// byte per pooled element: the window tap, 0-3 row-major, its maximum came from when that is
// positive, else 4) are [n, co, oh / 2, ow / 2]. backward computes the gradients asked for
// (non-null) from the pooled output's gradient, or returns false, computing nothing, when it
// cannot make the input gradient.
struct ConvReluPoolKernels {
  bool (*applies)(const ConvGeom& g) = nullptr;
  void (*forward)(const ConvGeom& g, const float* img, const float* wt, const float* bias,
                  float* pooled, uint8_t* codes) = nullptr;
  bool (*backward)(const ConvGeom& g, const float* img, const float* wt, const float* gpool,
                   const uint8_t* codes, float* gimg, float* dw, float* db) = nullptr;
};
extern ConvReluPoolKernels conv_relu_pool_cpu;

}  // namespace ranvier
