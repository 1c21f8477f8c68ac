// Each file under kernels/cpu/simd/ is compiled three times (cmake/RanvierMultiarch.cmake)
// with RV_SIMD_LEVEL 0 (baseline x86-64), 1 (AVX2+FMA) or 2 (AVX-512); RV_SIMD_NS names the
// namespace of that copy so that the three copies link side by side.
#pragma once
#ifndef RV_SIMD_LEVEL
#define RV_SIMD_LEVEL 0
#endif
#if RV_SIMD_LEVEL == 0
#define RV_SIMD_NS simd0
#elif RV_SIMD_LEVEL == 1
#define RV_SIMD_NS simd1
#else
#define RV_SIMD_NS simd2
#endif
