// The CUDA allocator: the caching allocator (caching_allocator.h) over cudaMalloc/cudaFree,
// installed in the core's DeviceAllocator slot for DeviceType::CUDA.
#include "cuda/allocator.h"

#include "core/storage.h"
#include "cuda/cuda_check.h"
#include "cuda/register.h"

namespace ranvier::cuda {

namespace {

// Runs the body with `device` as the current CUDA device, then restores the previous one.
struct DeviceGuard {
  int prev = -1;
  explicit DeviceGuard(int device) {
    if (cudaGetDevice(&prev) == cudaSuccess && prev != device) {
      RV_CUDA_CHECK(cudaSetDevice(device));
    } else {
      prev = -1;
    }
  }
  ~DeviceGuard() {
    if (prev >= 0) (void)cudaSetDevice(prev);
  }
};

void* raw_reserve(size_t nbytes, int device) {
  DeviceGuard g(device);
  void* p = nullptr;
  cudaError_t err = cudaMalloc(&p, nbytes);
  if (err == cudaErrorMemoryAllocation) {
    (void)cudaGetLastError();  // not sticky; clear it
    return nullptr;
  }
  RV_CUDA_CHECK(err);
  return p;
}

void raw_give_back(void* p, int device) {
  DeviceGuard g(device);
  // Kernels still queued may use the block: cudaFree waits for the device.
  (void)cudaFree(p);
}

void raw_mem_info(int device, size_t* free_b, size_t* total_b) {
  DeviceGuard g(device);
  if (cudaMemGetInfo(free_b, total_b) != cudaSuccess) {
    (void)cudaGetLastError();
    *free_b = *total_b = 0;
  }
}

void* allocate_slot(size_t nbytes, Device d) { return cuda_allocator().allocate(nbytes, d.index); }
void release_slot(void* p, size_t, Device d) { cuda_allocator().release(p, d.index); }

}  // namespace

CachingAllocator& cuda_allocator() {
  // Never destroyed: tensors may be freed during interpreter shutdown.
  static CachingAllocator* a =
      new CachingAllocator(RawBackend{&raw_reserve, &raw_give_back, &raw_mem_info});
  return *a;
}

void register_allocator_cuda() {
  DeviceAllocator& slot = device_allocator(DeviceType::CUDA);
  slot.allocate = &allocate_slot;
  slot.release = &release_slot;
}

}  // namespace ranvier::cuda
