// Winograd F(2x2, 3x3) convolution kernels (kernels/cpu/conv_winograd.cpp) for 3x3 filters,
// stride 1, dilation 1, one group, padding up to 2, outputs at least 2x2 (a 1x1 output would
// spend 16 products where 9 do, 1-wide ones 16 per 2 outputs instead of 18): each 2x2 block of
// outputs costs 16 multiplies per channel pair instead of 36. Forward, input gradient (the
// transpose of the forward: the output gradient's transformed blocks through U^T, then the
// transposed input transform) and weight gradient (the transpose of the forward's bilinear
// form). Samples run in fixed chunks; the weight gradient sums chunk partials in chunk order,
// so results do not depend on the thread count. Used by kernels/cpu/conv_gemm.cpp.
#pragma once
#include <cstdint>

#include "ops/conv.h"

namespace ranvier::cpu {

bool winograd_applies(const ConvGeom& g);

// mat[n] = conv(img[n]) + bias (ConvForwardKernel semantics).
template <typename T>
void winograd_forward(const ConvGeom& g, const T* img, const T* wt, const T* bias, T* mat);
// img[n] = the input gradient for output gradient mat[n] (conv_transpose2d's forward), the
// bits winograd_backward gives.
template <typename T>
void winograd_backward_data(const ConvGeom& g, const T* mat, const T* wt, T* img);
// dw = sum over n of the weight gradients, chunk partials of `chunk` samples.
template <typename T>
void winograd_weight_grad(const ConvGeom& g, const T* img, const T* mat, T* dw, int64_t chunk);

// conv2d's whole backward (ConvBackwardKernel semantics; any output may be null) in one pass
// over fixed chunks of `chunk` samples (a multiple of 2): input gradients, partial weight and
// bias gradients per chunk, the partials added in chunk order.
template <typename T>
void winograd_backward(const ConvGeom& g, const T* img, const T* wt, const T* gmat, T* gimg,
                       T* dw, T* db, int64_t chunk);

// Note [Fused patterns]: conv -> relu -> 2x2 max pool for float32 where winograd_applies and
// the output's height and width are even (relu_pool_avx512.h: the pooled output and codes).
// Results are the bits of winograd_forward, relu, max_pool2d and of winograd_backward on the
// spread-out gradient.
bool winograd_relu_pool_usable();  // the CPU has the AVX-512 kernels
void winograd_relu_pool_forward(const ConvGeom& g, const float* img, const float* wt,
                                const float* bias, float* pooled, uint8_t* codes);
void winograd_relu_pool_backward(const ConvGeom& g, const float* img, const float* wt,
                                 const float* gpool, const uint8_t* codes, float* gimg,
                                 float* dw, float* db, int64_t chunk);

// Sum of a row in a fixed order: 16 interleaved partial sums (vectorisable), then combined.
template <typename T>
T row_sum(const T* x, int64_t n) {
  T acc[16] = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int k = 0; k < 16; ++k) acc[k] += x[i + k];
  for (int k = 0; i < n; ++i, ++k) acc[k] += x[i];
  for (int k = 8; k > 0; k /= 2)
    for (int j = 0; j < k; ++j) acc[j] += acc[j + k];
  return acc[0];
}

}  // namespace ranvier::cpu
