// The dtype list (an X-macro, one line per dtype), its C++ types, promotion rules and the
// RV_DISPATCH_* macros that turn a runtime DType into a template argument.
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/error.h"
#include "core/half.h"

namespace ranvier {

// X(cpp type, enum name, python name, short name used in error messages)
#define RV_FORALL_DTYPES(X)              \
  X(float, Float32, "float32", "Float")  \
  X(double, Float64, "float64", "Double") \
  X(Half, Float16, "float16", "Half")    \
  X(BFloat16, BFloat16, "bfloat16", "BFloat16") \
  X(int64_t, Int64, "int64", "Long")     \
  X(int32_t, Int32, "int32", "Int")      \
  X(uint8_t, UInt8, "uint8", "Byte")     \
  X(bool, Bool, "bool", "Bool")

enum class DType : int8_t {
#define RV_ENUM(cpp, name, py, shortname) name,
  RV_FORALL_DTYPES(RV_ENUM)
#undef RV_ENUM
};
constexpr int kNumDTypes = 8;

inline size_t element_size(DType t) {
  switch (t) {
#define RV_SIZE(cpp, name, py, shortname) \
  case DType::name: return sizeof(cpp);
    RV_FORALL_DTYPES(RV_SIZE)
#undef RV_SIZE
  }
  return 0;
}
const char* dtype_name(DType t);        // "float32"
const char* dtype_short_name(DType t);  // "Float", as in PyTorch's messages
inline bool is_floating(DType t) {
  return t == DType::Float32 || t == DType::Float64 || t == DType::Float16 || t == DType::BFloat16;
}
inline bool is_integral(DType t, bool include_bool) {
  return t == DType::Int64 || t == DType::Int32 || t == DType::UInt8 ||
         (include_bool && t == DType::Bool);
}
inline bool is_reduced_float(DType t) { return t == DType::Float16 || t == DType::BFloat16; }

// PyTorch's promotion lattice for two dtypes (float16 + bfloat16 -> float32, uint8 + int8 ...).
DType promote_types(DType a, DType b);

// 0 = bool, 1 = integer, 2 = floating: the categories that decide whether a scalar or a 0-d
// tensor takes part in promotion.
inline int dtype_category(DType t) { return t == DType::Bool ? 0 : (is_floating(t) ? 2 : 1); }

template <typename T> struct CppToDType;
#define RV_CPP_TO_DTYPE(cpp, name, py, shortname) \
  template <> struct CppToDType<cpp> { static constexpr DType value = DType::name; };
RV_FORALL_DTYPES(RV_CPP_TO_DTYPE)
#undef RV_CPP_TO_DTYPE

[[noreturn]] void throw_unsupported_dtype(const char* op, DType t);

}  // namespace ranvier

// RV_DISPATCH(dtype, op_name, CASES..., [&] { ... uses scalar_t ... })
#define RV_DT_CASE(cppt, name, ...) \
  case ::ranvier::DType::name: {    \
    using scalar_t = cppt;          \
    return __VA_ARGS__();           \
  }

// float32, float64, int64, int32, uint8, bool: the dtypes whose kernels compute natively.
#define RV_DISPATCH_COMPUTE(dtype, opname, ...)                   \
  [&] {                                                          \
    switch (dtype) {                                             \
      RV_DT_CASE(float, Float32, __VA_ARGS__)                    \
      RV_DT_CASE(double, Float64, __VA_ARGS__)                   \
      RV_DT_CASE(int64_t, Int64, __VA_ARGS__)                    \
      RV_DT_CASE(int32_t, Int32, __VA_ARGS__)                    \
      RV_DT_CASE(uint8_t, UInt8, __VA_ARGS__)                    \
      RV_DT_CASE(bool, Bool, __VA_ARGS__)                        \
      default: ::ranvier::throw_unsupported_dtype(opname, dtype); \
    }                                                            \
  }()

#define RV_DISPATCH_FLOAT(dtype, opname, ...)                     \
  [&] {                                                          \
    switch (dtype) {                                             \
      RV_DT_CASE(float, Float32, __VA_ARGS__)                    \
      RV_DT_CASE(double, Float64, __VA_ARGS__)                   \
      default: ::ranvier::throw_unsupported_dtype(opname, dtype); \
    }                                                            \
  }()

#define RV_DISPATCH_ALL(dtype, opname, ...)                       \
  [&] {                                                          \
    switch (dtype) {                                             \
      RV_DT_CASE(float, Float32, __VA_ARGS__)                    \
      RV_DT_CASE(double, Float64, __VA_ARGS__)                   \
      RV_DT_CASE(::ranvier::Half, Float16, __VA_ARGS__)          \
      RV_DT_CASE(::ranvier::BFloat16, BFloat16, __VA_ARGS__)     \
      RV_DT_CASE(int64_t, Int64, __VA_ARGS__)                    \
      RV_DT_CASE(int32_t, Int32, __VA_ARGS__)                    \
      RV_DT_CASE(uint8_t, UInt8, __VA_ARGS__)                    \
      RV_DT_CASE(bool, Bool, __VA_ARGS__)                        \
      default: ::ranvier::throw_unsupported_dtype(opname, dtype); \
    }                                                            \
  }()
