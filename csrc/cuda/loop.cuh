// The CUDA elementwise engine's index math: a grid-stride loop over a LoopSpec (Principle 3:
// kernels see no Tensor). Each thread turns a linear index of the iteration shape (innermost
// dim last) into one element offset per operand. Launch helpers pick a grid from numel.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "cuda/cuda_check.h"
#include "kernels/common/loop_spec.h"

namespace ranvier::cuda {

constexpr int kThreads = 256;

// Element offsets of linear index i for operands 0..nops-1.
__host__ __device__ inline void loop_offsets(const LoopSpec& s, int64_t i, int64_t* off) {
  if (s.ndim == 1) {  // contiguous (or one strided dim) after coalescing: no 64-bit div/mod
    for (int k = 0; k < s.nops; ++k) off[k] = i * s.strides[k][0];
    return;
  }
  for (int k = 0; k < s.nops; ++k) off[k] = 0;
  for (int d = s.ndim - 1; d >= 0; --d) {
    int64_t n = s.sizes[d];
    int64_t idx = i % n;
    i /= n;
    for (int k = 0; k < s.nops; ++k) off[k] += idx * s.strides[k][d];
  }
}

inline unsigned grid_for(int64_t n) {
  int64_t blocks = (n + kThreads - 1) / kThreads;
  if (blocks > 65535 * 8) blocks = 65535 * 8;  // grid-stride covers the rest
  if (blocks < 1) blocks = 1;
  return unsigned(blocks);
}

#define RV_GRID_STRIDE(i, n) \
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); \
       i += int64_t(blockDim.x) * gridDim.x)

}  // namespace ranvier::cuda
