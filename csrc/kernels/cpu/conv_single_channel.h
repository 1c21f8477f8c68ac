// 3x3 / stride 1 convolutions of a single input channel (a network's first layer on grey
// images), float32 with AVX-512 or AVX2 + FMA (kernels/cpu/conv_single_channel.cpp and
// conv_single_channel_avx2.cpp): the GEMM path would multiply with an inner dimension of 9
// after copying the image nine times (im2col). Forward per sample; weight and bias gradients
// summed over the batch in a fixed order. Used by kernels/cpu/conv_gemm.cpp, which checks
// single_channel_applies() first, and by the fused conv -> relu -> max pool op
// (ops/conv_relu_pool.cpp).
#pragma once
#include <cstdint>

#include "ops/conv.h"

namespace ranvier::cpu {

// Samples per partial weight gradient (the partials are added in chunk order).
constexpr int64_t kSingleChannelChunk = 8;

bool single_channel_applies(const ConvGeom& g);

// mat[n] (+ bias) for sample n.
void single_channel_forward(const ConvGeom& g, int64_t n, const float* img, const float* wt,
                            const float* bias, float* mat);
// dw [co * 9] and db [co] (db may be null) = sums over the batch (overwritten).
void single_channel_weight_grad(const ConvGeom& g, const float* img, const float* gmat,
                                float* dw, float* db);

// The fused conv -> relu -> 2x2 / stride 2 max pool (Note [Fused patterns]), for even conv
// output sizes, where conv2d itself runs these kernels (kernels/cpu/conv_gemm.cpp decides).
// pooled [n, co, oh / 2, ow / 2] = max_pool2d(relu(conv)), the same bits as the three ops;
// codes (same shape) = the window tap (0-3, row-major) the maximum came from when it is
// positive, else 4 (no gradient reaches the conv there).
void single_channel_relu_pool_forward(const ConvGeom& g, const float* img, const float* wt,
                                      const float* bias, float* pooled, uint8_t* codes);
// dw and db (db may be null) from the pooled output's gradient: the same bits as the three
// ops' backward (the conv output's gradient is built a row at a time in registers).
void single_channel_relu_pool_weight_grad(const ConvGeom& g, const float* img,
                                          const float* gpool, const uint8_t* codes, float* dw,
                                          float* db);

}  // namespace ranvier::cpu
