// Direct (no im2col, no GEMM) convolution kernels for one input channel per group
// (ConvGeom with ci / groups == 1: depthwise convolutions and single-channel inputs), where a
// GEMM would have an inner dimension of only kh * kw. Used by kernels/cpu/conv_gemm.cpp.
// Each output plane (forward, backward data) or weight row (weight gradient) is computed by one
// thread in a fixed order, so results do not depend on the thread count. This file is built
// with the baseline instruction set (no AVX), so it is used only where GEMM calls would be tiny.
#pragma once
#include "ops/conv.h"

namespace ranvier::cpu {

// Whether the direct kernels handle this geometry.
inline bool conv_direct_applies(const ConvGeom& g) { return g.groups > 0 && g.ci == g.groups; }

template <typename T>
void conv_direct_forward(const ConvGeom& g, const T* img, const T* wt, const T* bias, T* mat);
template <typename T>
void conv_direct_backward_data(const ConvGeom& g, const T* mat, const T* wt, const T* bias,
                               T* img);
template <typename T>
void conv_direct_weight_grad(const ConvGeom& g, const T* img, const T* mat, T* dw);

}  // namespace ranvier::cpu
