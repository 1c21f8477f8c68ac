// The exact-form gelu of kernels/cpu/activation.cpp for float32 on AVX2 + FMA CPUs
// (kernels/cpu/gelu_avx2.cpp).
#pragma once
#include <cstdint>

namespace ranvier::cpu {

// Whether the CPU kernels run at the AVX2 level (Note [CPU capability]); AVX-512 CPUs keep the
// compiler-vectorised loop.
bool gelu_avx2_usable();
// out[i] = gelu(x[i]) (forward; with deriv[i] = gelu'(x[i]) too when deriv is not null) or
// g[i] * gelu'(x[i]), for i in [b, e).
void gelu_erf_avx2(bool forward, const float* g, const float* x, float* out, float* deriv,
                   int64_t b, int64_t e);

}  // namespace ranvier::cpu
