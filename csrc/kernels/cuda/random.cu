// CUDA random kernel (random_kernel slot, ops/random.h): uniform and normal float32 / float64
// values and int64 randint, one thread per Philox block (grid-stride), the block's values
// computed by random.cuh with the CPU kernel's formulas: the same generator state gives the
// same numbers on both devices (Note [Random numbers across devices] in random.cuh says
// where that is bitwise).
#include "cuda/cuda_check.h"
#include "cuda/loop.cuh"
#include "cuda/register.h"
#include "kernels/cuda/random.cuh"

namespace ranvier::cuda {

namespace {

__global__ void random_dev(RandomRequest r, void* out, DType dtype, int64_t n, int64_t nblocks) {
  RV_GRID_STRIDE(kb, nblocks) { random_math::random_block(r, out, dtype, n, kb); }
}

void random_cuda(const RandomRequest& r, void* out, DType dtype, int64_t n) {
  if (n <= 0) return;
  RV_CHECK(r.dist == RandomDist::RandInt ? dtype == DType::Int64
                                         : (dtype == DType::Float32 || dtype == DType::Float64),
           "random (CUDA): unsupported dtype ", dtype_name(dtype));
  const int per = random_math::per_block(r.dist, dtype);
  const int64_t nblocks = (n + per - 1) / per;
  random_dev<<<grid_for(nblocks), kThreads>>>(r, out, dtype, n, nblocks);
  RV_CUDA_CHECK(cudaGetLastError());
}

}  // namespace

void register_random_cuda() { random_kernel.set(DeviceType::CUDA, &random_cuda); }

}  // namespace ranvier::cuda
