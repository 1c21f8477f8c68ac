// Per-row math of the CUDA attention kernels (kernels/cuda/attention.cu), host/device so that
// csrc/cuda/test/attention_math_test.cu can check it on the host.
#pragma once
#include <cstdint>

#include "ops/attention.h"

namespace ranvier::cuda {

// The keys row i may attend to are [0, key_end): all S, or j <= i when causal.
__host__ __device__ inline int64_t attn_key_end(const AttnSpec& p, int64_t i) {
  if (!p.causal) return p.s;
  return i + 1 < p.s ? i + 1 : p.s;
}

// Element offset of the mask entry (b, i, j).
__host__ __device__ inline int64_t attn_mask_offset(const AttnSpec& p, int64_t b, int64_t i,
                                                    int64_t j) {
  return b * p.mb + i * p.ml + j * p.ms;
}

}  // namespace ranvier::cuda
