// The per-device CUDA context (see context.h): cuBLAS handles, one per device, created on first
// use under a lock and never destroyed (tensors and kernels may still run during interpreter
// shutdown, after the driver began unloading; the process exit frees them).
#include "cuda/context.h"

#include <mutex>
#include <vector>

#include "cuda/allocator.h"
#include "cuda/cuda_check.h"

namespace ranvier::cuda {

namespace {
std::mutex g_mutex;
std::vector<cublasHandle_t> g_handles;  // by device index; null until made
}  // namespace

cudaStream_t current_stream() { return nullptr; }

int current_device_index() {
  int d = 0;
  RV_CUDA_CHECK(cudaGetDevice(&d));
  return d;
}

const char* cublas_status_name(cublasStatus_t s) {
  switch (s) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    case CUBLAS_STATUS_LICENSE_ERROR: return "CUBLAS_STATUS_LICENSE_ERROR";
    default: return "CUBLAS_STATUS_UNKNOWN";
  }
}

void throw_cublas_error(cublasStatus_t s, const char* call) {
  throw_error(ErrorKind::Runtime, str_cat("cuBLAS error: ", cublas_status_name(s), " (", int(s),
                                          ") in ", call));
}

void check_device_pointer(const void* p, const char* op, const char* what) {
  if (p == nullptr) return;
  cudaPointerAttributes attr;
  cudaError_t err = cudaPointerGetAttributes(&attr, p);
  if (err != cudaSuccess) (void)cudaGetLastError();  // not a pointer CUDA knows: host memory
  const bool device = err == cudaSuccess && (attr.type == cudaMemoryTypeDevice ||
                                             attr.type == cudaMemoryTypeManaged);
  RV_CHECK(device, op, ": expected ", what, " on a CUDA device, but it is in host memory");
}

cublasHandle_t cublas_handle() {
  const int d = current_device_index();
  std::lock_guard<std::mutex> lock(g_mutex);
  if (size_t(d) >= g_handles.size()) g_handles.resize(size_t(d) + 1, nullptr);
  cublasHandle_t& h = g_handles[size_t(d)];
  if (h == nullptr) {
    cublasHandle_t made = nullptr;
    RV_CUBLAS_CHECK(cublasCreate(&made));
    h = made;
  }
  RV_CUBLAS_CHECK(cublasSetStream(h, current_stream()));
  return h;
}

ScratchBuffer::ScratchBuffer(size_t nbytes) : device_(current_device_index()) {
  if (nbytes > 0) ptr_ = cuda_allocator().allocate(nbytes, device_);
}

ScratchBuffer::~ScratchBuffer() {
  if (ptr_) cuda_allocator().release(ptr_, device_);
}

}  // namespace ranvier::cuda
