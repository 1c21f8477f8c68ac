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

// Note [Fast index division]: a 64-bit division costs a GPU thread dozens of instructions, and
// a strided copy needs one per dim per element, which made a transposing copy run at a tenth of
// the memory bandwidth. Below 2^31 elements each dim size d divides with a multiply-high, an
// add and a shift: with s = ceil(log2 d) and magic = floor(2^32 (2^s - d) / d) + 1,
// n / d = (umulhi(n, magic) + n) >> s for every n < 2^31 (the sum stays below 2^32). The magic
// numbers are worked out once per launch on the host. When, besides, every operand's offsets
// stay below 2^31 (non-negative strides), they are summed in 32-bit arithmetic too (a 64-bit
// multiply is several instructions).
struct Divisors {
  bool fast = false;   // numel < 2^31 and more than one dim
  bool small = false;  // fast, and every offset fits in 31 bits
  uint32_t magic[kMaxDims] = {};
  uint32_t shift[kMaxDims] = {};
};

inline Divisors divisors_for(const LoopSpec& s) {
  Divisors v;
  v.fast = s.ndim > 1 && s.numel < (int64_t(1) << 31);
  if (!v.fast) return v;
  v.small = true;
  for (int k = 0; k < s.nops; ++k) {
    int64_t span = 0;
    for (int d = 0; d < s.ndim; ++d) {
      if (s.strides[k][d] < 0 || s.strides[k][d] >= (int64_t(1) << 31)) v.small = false;
      else span += (s.sizes[d] - 1) * s.strides[k][d];
    }
    if (span >= (int64_t(1) << 31)) v.small = false;
  }
  for (int d = 0; d < s.ndim; ++d) {
    const uint64_t n = uint64_t(s.sizes[d]);
    uint32_t sh = 0;
    while ((uint64_t(1) << sh) < n) ++sh;
    v.shift[d] = sh;
    v.magic[d] = uint32_t(((uint64_t(1) << 32) * ((uint64_t(1) << sh) - n)) / n + 1);
  }
  return v;
}

__host__ __device__ inline uint32_t fast_div(uint32_t n, uint32_t magic, uint32_t shift) {
#ifdef __CUDA_ARCH__
  const uint32_t hi = __umulhi(n, magic);
#else
  const uint32_t hi = uint32_t((uint64_t(n) * magic) >> 32);
#endif
  return (hi + n) >> shift;
}

// loop_offsets for the first N operands (N known when compiling, so that off stays in
// registers: a loop over the run-time operand count puts it in local memory), with the
// divisions of Note [Fast index division] where they apply.
template <int N>
__host__ __device__ __forceinline__ void loop_offsets(const LoopSpec& s, const Divisors& dv,
                                                      int64_t i, int64_t (&off)[N]) {
#pragma unroll
  for (int k = 0; k < N; ++k) off[k] = s.ndim == 1 ? i * s.strides[k][0] : 0;
  if (s.ndim == 1) return;
  if (dv.small) {
    uint32_t r = uint32_t(i), o[N] = {};
    for (int d = s.ndim - 1; d >= 0; --d) {
      const uint32_t q = fast_div(r, dv.magic[d], dv.shift[d]);
      const uint32_t idx = r - q * uint32_t(s.sizes[d]);
      r = q;
#pragma unroll
      for (int k = 0; k < N; ++k) o[k] += idx * uint32_t(s.strides[k][d]);
    }
#pragma unroll
    for (int k = 0; k < N; ++k) off[k] = int64_t(o[k]);
    return;
  }
  if (dv.fast) {
    uint32_t r = uint32_t(i);
    for (int d = s.ndim - 1; d >= 0; --d) {
      const uint32_t q = fast_div(r, dv.magic[d], dv.shift[d]);
      const int64_t idx = int64_t(r - q * uint32_t(s.sizes[d]));
      r = q;
#pragma unroll
      for (int k = 0; k < N; ++k) off[k] += idx * s.strides[k][d];
    }
    return;
  }
  for (int d = s.ndim - 1; d >= 0; --d) {
    const int64_t n = s.sizes[d], idx = i % n;
    i /= n;
#pragma unroll
    for (int k = 0; k < N; ++k) off[k] += idx * s.strides[k][d];
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

// Offsets of the U linear indices base + j * step (j < U) for the first N operands, worked out
// together: each dim's divisor, size and strides are read once for all U (they live in the
// kernel's parameters, and reading them per element made a strided copy half as fast as a
// plain one). Indices past numel get meaningless offsets that the caller must not use.
template <int N, int U>
__host__ __device__ __forceinline__ void offsets_of(const LoopSpec& s, const Divisors& dv,
                                                    int64_t base, int64_t step,
                                                    int64_t (&off)[U][N]) {
  if (s.ndim == 1 || !dv.fast) {
#pragma unroll
    for (int j = 0; j < U; ++j) loop_offsets(s, dv, base + j * step, off[j]);
    return;
  }
  uint32_t r[U];
#pragma unroll
  for (int j = 0; j < U; ++j) r[j] = uint32_t(base + j * step);
  if (dv.small) {
    uint32_t o[U][N] = {};
    for (int d = s.ndim - 1; d >= 0; --d) {
      const uint32_t mg = dv.magic[d], sh = dv.shift[d], sz = uint32_t(s.sizes[d]);
      uint32_t st[N];
#pragma unroll
      for (int k = 0; k < N; ++k) st[k] = uint32_t(s.strides[k][d]);
#pragma unroll
      for (int j = 0; j < U; ++j) {
        const uint32_t q = fast_div(r[j], mg, sh), idx = r[j] - q * sz;
        r[j] = q;
#pragma unroll
        for (int k = 0; k < N; ++k) o[j][k] += idx * st[k];
      }
    }
#pragma unroll
    for (int j = 0; j < U; ++j)
#pragma unroll
      for (int k = 0; k < N; ++k) off[j][k] = int64_t(o[j][k]);
    return;
  }
#pragma unroll
  for (int j = 0; j < U; ++j)
#pragma unroll
    for (int k = 0; k < N; ++k) off[j][k] = 0;
  for (int d = s.ndim - 1; d >= 0; --d) {
    const uint32_t mg = dv.magic[d], sh = dv.shift[d], sz = uint32_t(s.sizes[d]);
    int64_t st[N];
#pragma unroll
    for (int k = 0; k < N; ++k) st[k] = s.strides[k][d];
#pragma unroll
    for (int j = 0; j < U; ++j) {
      const uint32_t q = fast_div(r[j], mg, sh), idx = r[j] - q * sz;
      r[j] = q;
#pragma unroll
      for (int k = 0; k < N; ++k) off[j][k] += int64_t(idx) * st[k];
    }
  }
}

// The loop of the strided kernels: for the thread's U indices (a block-width apart, grid-stride
// like unrolled_loop below) works out the offsets of N operands (offsets_of), then calls
// load(j, off[j]) for each index below numel, then store(j, off[j]).
template <int N, int U, typename Load, typename Store>
__device__ __forceinline__ void strided_loop(const LoopSpec& s, const Divisors& dv, Load&& load,
                                             Store&& store) {
  const int64_t step = int64_t(gridDim.x) * blockDim.x * U;
  for (int64_t base = int64_t(blockIdx.x) * blockDim.x * U + threadIdx.x; base < s.numel;
       base += step) {
    int64_t off[U][N];
    offsets_of<N, U>(s, dv, base, blockDim.x, off);
#pragma unroll
    for (int j = 0; j < U; ++j)
      if (base + int64_t(j) * blockDim.x < s.numel) load(j, off[j]);
#pragma unroll
    for (int j = 0; j < U; ++j)
      if (base + int64_t(j) * blockDim.x < s.numel) store(j, off[j]);
  }
}

// Elements per thread of the unrolled elementwise loops: each thread loads the operands of
// kUnroll elements (a block-width apart, so every load stays coalesced) before computing and
// storing any, so that kUnroll memory requests are in flight at once.
constexpr int kUnroll = 4;

// Calls load(j, i) for the thread's U linear indices i < n, then store(j, i) for the same ones,
// over a grid-stride loop (any grid; grid_for(n, U) blocks cover n in one pass).
template <int U = kUnroll, typename Load, typename Store>
__device__ __forceinline__ void unrolled_loop(int64_t n, Load&& load, Store&& store) {
  const int64_t step = int64_t(gridDim.x) * blockDim.x * U;
  for (int64_t base = int64_t(blockIdx.x) * blockDim.x * U + threadIdx.x; base < n;
       base += step) {
#pragma unroll
    for (int j = 0; j < U; ++j) {
      const int64_t i = base + int64_t(j) * blockDim.x;
      if (i < n) load(j, i);
    }
#pragma unroll
    for (int j = 0; j < U; ++j) {
      const int64_t i = base + int64_t(j) * blockDim.x;
      if (i < n) store(j, i);
    }
  }
}

#define RV_GRID_STRIDE(i, n) \
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); \
       i += int64_t(blockDim.x) * gridDim.x)

}  // namespace ranvier::cuda
