// Winograd F(2x2, 3x3) convolution kernels (kernels/cpu/conv_winograd.cpp) for 3x3 filters,
// stride 1, dilation 1, one group, padding up to 2: each 2x2 block of outputs costs 16
// multiplies per channel pair instead of 36. Forward, input gradient (the same transform with
// the flipped, transposed filter) and weight gradient (the transpose of the forward's bilinear
// form). Samples run in fixed chunks; the weight gradient sums chunk partials in chunk order,
// so results do not depend on the thread count. Used by kernels/cpu/conv_gemm.cpp.
#pragma once
#include "ops/conv.h"

namespace ranvier::cpu {

bool winograd_applies(const ConvGeom& g);

// mat[n] = conv(img[n]) + bias (ConvForwardKernel semantics).
template <typename T>
void winograd_forward(const ConvGeom& g, const T* img, const T* wt, const T* bias, T* mat);
// img[n] = the input gradient for output gradient mat[n].
template <typename T>
void winograd_backward_data(const ConvGeom& g, const T* mat, const T* wt, T* img);
// dw = sum over n of the weight gradients, chunk partials of `chunk` samples.
template <typename T>
void winograd_weight_grad(const ConvGeom& g, const T* img, const T* mat, T* dw, int64_t chunk);

}  // namespace ranvier::cpu
