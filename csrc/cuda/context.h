// The per-device CUDA context of the BLAS-backed kernels: one cuBLAS handle per device, made
// lazily on first use and bound to the current stream (the default stream for now: every
// kernel and copy runs there, in order), with cuBLAS managing its own workspace; RV_CUBLAS_CHECK
// turns a failed cuBLAS call into a RuntimeError naming the call and the status; a scratch
// buffer from the caching allocator (freed blocks are reused in stream order, which is safe
// while everything runs on one stream).
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstddef>

#include "core/error.h"

namespace ranvier::cuda {

// The stream kernels run on (the default stream, 0, for now).
cudaStream_t current_stream();
// The current device (cudaGetDevice, checked).
int current_device_index();
// The cuBLAS handle of the current device, bound to current_stream().
cublasHandle_t cublas_handle();
// "CUBLAS_STATUS_..." for a status.
const char* cublas_status_name(cublasStatus_t s);
[[noreturn]] void throw_cublas_error(cublasStatus_t s, const char* call);
// RuntimeError "<op>: expected <what> on a CUDA device" unless p (non-null) is device memory:
// for kernels whose op does not check every operand's device itself.
void check_device_pointer(const void* p, const char* op, const char* what);

// Device memory for temporaries of one kernel call, on the current device.
class ScratchBuffer {
 public:
  explicit ScratchBuffer(size_t nbytes);
  ~ScratchBuffer();
  ScratchBuffer(const ScratchBuffer&) = delete;
  ScratchBuffer& operator=(const ScratchBuffer&) = delete;
  template <typename T>
  T* as() const { return static_cast<T*>(ptr_); }

 private:
  void* ptr_ = nullptr;
  int device_ = 0;
};

}  // namespace ranvier::cuda

#define RV_CUBLAS_CHECK(expr)                                         \
  do {                                                                \
    cublasStatus_t rv_st_ = (expr);                                   \
    if (rv_st_ != CUBLAS_STATUS_SUCCESS)                              \
      ::ranvier::cuda::throw_cublas_error(rv_st_, #expr);             \
  } while (0)
