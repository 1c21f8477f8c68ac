// Portability macros shared by CPU (.cpp) and CUDA (.cu) kernels.
#pragma once
#if defined(__CUDACC__)
#define RV_HOST_DEVICE __host__ __device__
#define RV_INLINE __forceinline__
#else
#define RV_HOST_DEVICE
#define RV_INLINE inline __attribute__((always_inline))
#endif
