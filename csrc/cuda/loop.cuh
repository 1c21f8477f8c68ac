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

// Blocks for n elements at per_thread elements per thread.
inline unsigned grid_for(int64_t n, int per_thread = 1) {
  const int64_t per_block = int64_t(kThreads) * per_thread;
  int64_t blocks = (n + per_block - 1) / per_block;
  if (blocks > 65535 * 8) blocks = 65535 * 8;  // grid-stride covers the rest
  if (blocks < 1) blocks = 1;
  return unsigned(blocks);
}

// Elements per thread of the unrolled elementwise loops: each thread loads the operands of
// kUnroll elements (a block-width apart, so every load stays coalesced) before computing and
// storing any, so that kUnroll memory requests are in flight at once.
constexpr int kUnroll = 4;

// Calls load(j, i) for the thread's kUnroll linear indices i < n, then store(j, i) for the same
// ones, over a grid-stride loop of grid_for(n, kUnroll) blocks.
template <typename Load, typename Store>
__device__ __forceinline__ void unrolled_loop(int64_t n, Load&& load, Store&& store) {
  const int64_t step = int64_t(gridDim.x) * blockDim.x * kUnroll;
  for (int64_t base = int64_t(blockIdx.x) * blockDim.x * kUnroll + threadIdx.x; base < n;
       base += step) {
#pragma unroll
    for (int j = 0; j < kUnroll; ++j) {
      const int64_t i = base + int64_t(j) * blockDim.x;
      if (i < n) load(j, i);
    }
#pragma unroll
    for (int j = 0; j < kUnroll; ++j) {
      const int64_t i = base + int64_t(j) * blockDim.x;
      if (i < n) store(j, i);
    }
  }
}

#define RV_GRID_STRIDE(i, n) \
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); \
       i += int64_t(blockDim.x) * gridDim.x)

}  // namespace ranvier::cuda
