// The C entry points of libranvier_cuda, called from Python (ranvier/cuda/__init__.py, through
// ctypes) after the library is loaded. ranvier_cuda_init() asks the driver for devices and,
// only when there is at least one, fills the core's CUDA slots (allocator, copies, kernels).
// ranvier_cuda_register_kernels_only() fills the kernel slots without asking for a device (no
// allocator, so no CUDA tensor can exist): the coverage test (tests/test_cuda_coverage.py) uses
// it to list the slots without a CUDA kernel on a machine without a GPU.
// No C++ exception crosses this boundary: errors come back as codes / text.
#include <cuda_runtime.h>

#include <cstdio>
#include <cstring>
#include <exception>
#include <mutex>

#include "core/pinned.h"
#include "cuda/allocator.h"
#include "cuda/register.h"

using namespace ranvier::cuda;

namespace {
int g_device_count = -1;
char g_error[512] = "";
std::once_flag g_once;

void set_error(const char* msg) { std::snprintf(g_error, sizeof g_error, "%s", msg); }

// Page-locked host memory for Tensor.pin_memory() (core/pinned.h).
void* host_alloc(size_t n) {
  void* p = nullptr;
  if (cudaHostAlloc(&p, n, cudaHostAllocDefault) != cudaSuccess) {
    (void)cudaGetLastError();
    return nullptr;
  }
  return p;
}
void host_free(void* p) { (void)cudaFreeHost(p); }
void register_pinned_host_allocator() {
  ranvier::HostAllocator& a = ranvier::pinned_host_allocator();
  a.allocate = &host_alloc;
  a.release = &host_free;
}

// Every kernel family's registration, one line each; both entry points call it once.
void register_kernel_families() {
  register_copy_cuda();
  register_elementwise_cuda();
  register_gelu_cuda();
  register_reduce_cuda();
  register_scan_cuda();
  register_softmax_cuda();
  register_loss_cuda();
  register_norm_cuda();
  register_random_cuda();
  register_optim_cuda();
  register_indexing_cuda();
  register_pool_cuda();
  register_upsample_cuda();
  register_sort_cuda();
  register_gemm_cuda();
  register_conv_cuda();
  register_attention_cuda();
  register_rnn_cuda();
  register_ctc_cuda();
  register_amp_cuda();
}
std::once_flag g_kernels_once;
void register_kernels_once() { std::call_once(g_kernels_once, register_kernel_families); }
}  // namespace

extern "C" {

// Number of usable CUDA devices (0 when there is no driver or no device), registering the CUDA
// backend the first time a device is found; -1 when registration itself failed.
int ranvier_cuda_init() {
  std::call_once(g_once, [] {
    int n = 0;
    cudaError_t err = cudaGetDeviceCount(&n);
    if (err != cudaSuccess) {
      set_error(cudaGetErrorString(err));
      (void)cudaGetLastError();
      g_device_count = 0;
      return;
    }
    if (n == 0) {
      set_error("no CUDA device");
      g_device_count = 0;
      return;
    }
    try {
      register_allocator_cuda();
      register_pinned_host_allocator();
      register_kernels_once();
      g_device_count = n;
    } catch (const std::exception& e) {
      set_error(e.what());
      g_device_count = -1;
    }
  });
  return g_device_count;
}

// Fills the CUDA kernel slots (function pointers only; no allocator, no device needed).
// 0 on success, -1 (with ranvier_cuda_last_error()) when a registration threw.
int ranvier_cuda_register_kernels_only() {
  try {
    register_kernels_once();
    return 0;
  } catch (const std::exception& e) {
    set_error(e.what());
    return -1;
  }
}

// Why ranvier_cuda_init() found no device ("" when it found one).
const char* ranvier_cuda_last_error() { return g_error; }

int ranvier_cuda_current_device() {
  int d = 0;
  if (cudaGetDevice(&d) != cudaSuccess) return -1;
  return d;
}

int ranvier_cuda_set_device(int d) {
  cudaError_t err = cudaSetDevice(d);
  if (err != cudaSuccess) set_error(cudaGetErrorString(err));
  return err == cudaSuccess ? 0 : -1;
}

int ranvier_cuda_synchronize(int d) {
  int prev = 0;
  if (cudaGetDevice(&prev) != cudaSuccess) return -1;
  if (d >= 0 && d != prev && cudaSetDevice(d) != cudaSuccess) return -1;
  cudaError_t err = cudaDeviceSynchronize();
  if (err != cudaSuccess) set_error(cudaGetErrorString(err));
  if (d >= 0 && d != prev) (void)cudaSetDevice(prev);
  return err == cudaSuccess ? 0 : -1;
}

// Memory statistics of device d in bytes: which = 0 allocated, 1 peak allocated, 2 reserved.
unsigned long long ranvier_cuda_memory_stat(int d, int which) {
  AllocatorStats s = cuda_allocator().stats(d);
  if (which == 0) return s.allocated;
  if (which == 1) return s.peak_allocated;
  return s.reserved;
}

void ranvier_cuda_reset_peak(int d) { cuda_allocator().reset_peak(d); }

unsigned long long ranvier_cuda_empty_cache() {
  try {
    return cuda_allocator().empty_cache();
  } catch (const std::exception& e) {
    set_error(e.what());
    return 0;
  }
}

}  // extern "C"
