// Device-side element types: the core's dtypes as CUDA sees them (the conversions also run on
// the host, for csrc/cuda/test/kernel_math_test.cu). float16 / bfloat16 are raw
// 16-bit patterns converted with CUDA's intrinsics (round to nearest even, like the CPU side).
// dispatch_dtype() turns a runtime DType into a template argument.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <type_traits>

#include "core/dtype.h"

namespace ranvier::cuda {

struct DHalf { uint16_t x; };
struct DBf16 { uint16_t x; };

template <typename T> struct TypeTag { using type = T; };

// Calls f(TypeTag<T>{}) for the device type of dtype.
template <typename F>
void dispatch_dtype(DType t, const char* op, F&& f) {
  switch (t) {
    case DType::Float32: return f(TypeTag<float>{});
    case DType::Float64: return f(TypeTag<double>{});
    case DType::Float16: return f(TypeTag<DHalf>{});
    case DType::BFloat16: return f(TypeTag<DBf16>{});
    case DType::Int64: return f(TypeTag<int64_t>{});
    case DType::Int32: return f(TypeTag<int32_t>{});
    case DType::UInt8: return f(TypeTag<uint8_t>{});
    case DType::Bool: return f(TypeTag<bool>{});
  }
  throw_unsupported_dtype(op, t);
}

template <typename T>
constexpr bool kReduced = std::is_same_v<T, DHalf> || std::is_same_v<T, DBf16>;

template <typename T>
__host__ __device__ inline float reduced_to_float(T v) {
  if constexpr (std::is_same_v<T, DHalf>) return __half2float(__ushort_as_half(v.x));
  else return __bfloat162float(__ushort_as_bfloat16(v.x));
}
template <typename T>
__host__ __device__ inline T float_to_reduced(float f) {
  if constexpr (std::is_same_v<T, DHalf>) return T{__half_as_ushort(__float2half_rn(f))};
  else return T{__bfloat16_as_ushort(__float2bfloat16_rn(f))};
}

// Value conversion between any two device types (C++ casts; to bool means != 0).
template <typename D, typename S>
__host__ __device__ inline D convert(S v) {
  if constexpr (std::is_same_v<D, S>) {
    return v;
  } else if constexpr (kReduced<S>) {
    return convert<D, float>(reduced_to_float(v));
  } else if constexpr (kReduced<D>) {
    return float_to_reduced<D>(float(v));
  } else if constexpr (std::is_same_v<D, bool>) {
    return v != S(0);
  } else {
    return static_cast<D>(v);
  }
}

}  // namespace ranvier::cuda
