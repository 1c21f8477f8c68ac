// Launching a row kernel: fn(r, fold) for every row r in [0, rows), where fold is the lane
// policy of reduce.cuh. Rows whose fold length is below kBlockRowLength get one warp each
// (8 rows per 256-thread block); longer rows get a whole block (BlockFold). The choice depends
// on the shapes only, so a given shape always combines in the same order (Note
// [Deterministic CUDA reductions] in reduce.cuh). Fn: a struct with a __host__ __device__
// template operator()(int64_t r, const Fold& fold) in which every lane of the fold takes part.
#pragma once
#include "cuda/cuda_check.h"
#include "cuda/loop.cuh"
#include "kernels/cuda/reduce.cuh"

namespace ranvier::cuda {

constexpr int64_t kBlockRowLength = 2048;

template <typename Fn>
__global__ void __launch_bounds__(256) rows_warp_dev(int64_t rows, Fn fn) {
  const int lane = threadIdx.x & 31;
  const int64_t first = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) >> 5;
  const int64_t step = (int64_t(gridDim.x) * blockDim.x) >> 5;
  for (int64_t r = first; r < rows; r += step) fn(r, reduce_math::WarpFold{lane});
}

template <typename Fn>
__global__ void __launch_bounds__(256) rows_block_dev(int64_t rows, Fn fn) {
  __shared__ double slots[256];
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x)
    fn(r, reduce_math::BlockFold{int(threadIdx.x), slots});
}

template <typename Fn>
void launch_rows(int64_t rows, int64_t length, const Fn& fn) {
  if (rows <= 0) return;
  if (length >= kBlockRowLength) {
    int64_t blocks = rows < 65535 * 4 ? rows : 65535 * 4;
    rows_block_dev<Fn><<<unsigned(blocks), 256>>>(rows, fn);
  } else {
    rows_warp_dev<Fn><<<grid_for(rows * 32), 256>>>(rows, fn);
  }
  RV_CUDA_CHECK(cudaGetLastError());
}

}  // namespace ranvier::cuda
