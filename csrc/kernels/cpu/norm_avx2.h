// layer_norm's float32 rows for AVX2 + FMA CPUs (kernels/cpu/norm_avx2.cpp), used by
// kernels/cpu/norm.cpp.
#pragma once
#include <cstdint>

#include "ops/norm.h"

namespace ranvier::cpu {

// Whether the CPU kernels run at the AVX2 level (Note [CPU capability]); AVX-512 CPUs keep the
// compiler-vectorised loops.
bool layer_norm_avx2_usable();
// Forward rows [rb, re): mean, invstd and y of a float32 NormSpec.
void ln_forward_rows_avx2(const NormSpec& p, int64_t rb, int64_t re);
// Input-gradient rows [rb, re) of a float32 NormSpec.
void ln_grad_x_rows_avx2(const NormSpec& p, int64_t rb, int64_t re);

}  // namespace ranvier::cpu
