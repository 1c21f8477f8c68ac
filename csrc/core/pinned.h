// Page-locked ("pinned") host memory: a CPU tensor whose memory the GPU can copy from and to
// directly. The core only has a hook; libranvier_cuda fills it (cudaHostAlloc / cudaFreeHost)
// when it registers, and without it pin_memory() raises RuntimeError (PyTorch's behaviour
// without CUDA). is_pinned() answers from the set of live pinned blocks.
#pragma once
#include <cstddef>

#include "core/tensor.h"

namespace ranvier {

struct HostAllocator {
  void* (*allocate)(size_t nbytes) = nullptr;  // null when out of memory
  void (*release)(void* p) = nullptr;
};
HostAllocator& pinned_host_allocator();

// A pinned CPU copy of t (same sizes, contiguous); t itself when it is pinned already.
Tensor pin_memory(const Tensor& t);
// Whether t's memory is a pinned block (false for CUDA tensors and without CUDA).
bool is_pinned(const Tensor& t);

}  // namespace ranvier
