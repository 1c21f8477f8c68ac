// Scratch: device memory for a kernel's temporary tables, taken from the CUDA allocator slot
// (the caching allocator) on the current device and given back on scope exit; upload() copies
// a host array into it (synchronous cudaMemcpy).
#pragma once
#include <cstddef>

#include "core/storage.h"
#include "cuda/cuda_check.h"

namespace ranvier::cuda {

struct Scratch {
  void* p = nullptr;
  size_t n = 0;
  Device dev;
  explicit Scratch(size_t bytes) : n(bytes ? bytes : 1) {
    int d = 0;
    RV_CUDA_CHECK(cudaGetDevice(&d));
    dev = Device(DeviceType::CUDA, d);
    p = device_allocator(DeviceType::CUDA).allocate(n, dev);
  }
  ~Scratch() {
    if (p) device_allocator(DeviceType::CUDA).release(p, n, dev);
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  template <typename T> T* as() const { return static_cast<T*>(p); }
  void upload(const void* src, size_t bytes) {
    if (bytes) RV_CUDA_CHECK(cudaMemcpy(p, src, bytes, cudaMemcpyHostToDevice));
  }
};

}  // namespace ranvier::cuda
