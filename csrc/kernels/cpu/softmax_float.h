// Vectorised float32 softmax / log_softmax kernels (softmax_float.cpp); softmax.cpp sends
// float32 here and keeps float64 on its own loops.
#pragma once
#include "ops/softmax.h"

namespace ranvier::cpu {
void softmax_forward_f32(const SoftmaxSpec& s);
void softmax_backward_f32(const SoftmaxSpec& s);
}  // namespace ranvier::cpu
