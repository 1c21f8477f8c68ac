// 3x3 / stride 1 convolutions of a single input channel (a network's first layer on grey
// images), float32 with AVX-512 (kernels/cpu/conv_single_channel.cpp): the GEMM path would
// multiply with an inner dimension of 9 after copying the image nine times (im2col). Forward
// per sample; weight and bias gradients summed over a range of samples in a fixed order. Used by
// kernels/cpu/conv_gemm.cpp, which checks single_channel_applies() first.
#pragma once
#include <cstdint>

#include "ops/conv.h"

namespace ranvier::cpu {

bool single_channel_applies(const ConvGeom& g);

// mat[n] (+ bias) for sample n.
void single_channel_forward(const ConvGeom& g, int64_t n, const float* img, const float* wt,
                            const float* bias, float* mat);
// dw [co * 9] and db [co] (db may be null) = sums over samples [n0, n1) (overwritten).
void single_channel_weight_grad(const ConvGeom& g, int64_t n0, int64_t n1, const float* img,
                                const float* gmat, float* dw, float* db);

}  // namespace ranvier::cpu
