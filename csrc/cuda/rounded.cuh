// Correctly rounded float / double arithmetic that the device compiler may not contract:
// rn_add / rn_sub / rn_mul / rn_div / rn_sqrt are the _rn intrinsics on the device (nvcc would
// otherwise fuse a * b + c into one FMA, which rounds once where the CPU kernels round twice)
// and the plain operators on the host (where the CPU's SSE arithmetic is already correctly
// rounded). Kernels that promise the CPU's bits (optimizer steps, scans, upsample taps, random
// transforms) compute through these; host tests call the same functions.
#pragma once
#include <cmath>

#include "kernels/common/macros.h"

namespace ranvier::cuda {

#if defined(__CUDA_ARCH__)
RV_HOST_DEVICE RV_INLINE float rn_add(float a, float b) { return __fadd_rn(a, b); }
RV_HOST_DEVICE RV_INLINE float rn_sub(float a, float b) { return __fsub_rn(a, b); }
RV_HOST_DEVICE RV_INLINE float rn_mul(float a, float b) { return __fmul_rn(a, b); }
RV_HOST_DEVICE RV_INLINE float rn_div(float a, float b) { return __fdiv_rn(a, b); }
RV_HOST_DEVICE RV_INLINE float rn_sqrt(float a) { return __fsqrt_rn(a); }
RV_HOST_DEVICE RV_INLINE double rn_add(double a, double b) { return __dadd_rn(a, b); }
RV_HOST_DEVICE RV_INLINE double rn_sub(double a, double b) { return __dsub_rn(a, b); }
RV_HOST_DEVICE RV_INLINE double rn_mul(double a, double b) { return __dmul_rn(a, b); }
RV_HOST_DEVICE RV_INLINE double rn_div(double a, double b) { return __ddiv_rn(a, b); }
RV_HOST_DEVICE RV_INLINE double rn_sqrt(double a) { return __dsqrt_rn(a); }
#else
template <typename T> inline T rn_add(T a, T b) { return a + b; }
template <typename T> inline T rn_sub(T a, T b) { return a - b; }
template <typename T> inline T rn_mul(T a, T b) { return a * b; }
template <typename T> inline T rn_div(T a, T b) { return a / b; }
template <typename T> inline T rn_sqrt(T a) { return std::sqrt(a); }
#endif

}  // namespace ranvier::cuda
