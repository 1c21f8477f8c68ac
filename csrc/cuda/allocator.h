// The process-wide CUDA caching allocator (Note [CUDA block cache]).
#pragma once
#include "cuda/caching_allocator.h"

namespace ranvier::cuda {

CachingAllocator& cuda_allocator();

}  // namespace ranvier::cuda
