// RV_CUDA_CHECK: turns a failed CUDA runtime call into a RuntimeError naming the call and
// CUDA's error text (Note [No aborts]). Kernel launches are checked with
// RV_CUDA_CHECK(cudaGetLastError()).
#pragma once
#include <cuda_runtime.h>

#include "core/error.h"

#define RV_CUDA_CHECK(expr)                                                              \
  do {                                                                                   \
    cudaError_t rv_err_ = (expr);                                                        \
    if (rv_err_ != cudaSuccess)                                                          \
      ::ranvier::throw_error(::ranvier::ErrorKind::Runtime,                              \
                             ::ranvier::str_cat("CUDA error: ", cudaGetErrorString(rv_err_), \
                                                " (", #expr, ")"));                      \
  } while (0)
