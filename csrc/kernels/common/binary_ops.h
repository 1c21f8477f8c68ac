// Binary elementwise ops: the op codes and their functors, written once for CPU and CUDA.
// Kernels receive operands already converted to one compute dtype T (bool results for the
// comparison and logical ops). Integer division by zero yields 0 here; the op layer raises
// before that. Ops a dtype does not support (bitwise on floats, ...) call no functor: the op
// layer rejects them first and the kernel asserts.
#pragma once
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "kernels/common/macros.h"

namespace ranvier {

enum class BinaryOp : int8_t {
  Add, Sub, Mul, Div, TruncDiv, FloorDiv, Remainder, Fmod, Pow, Minimum, Maximum, Atan2,
  ReluGrad,  // a where b > 0, else 0: relu's backward in one pass
  BitAnd, BitOr, BitXor,
  Eq, Ne, Lt, Le, Gt, Ge,           // comparisons: bool output
  LogicalAnd, LogicalOr, LogicalXor,  // logical: bool output
  Count
};

inline bool binary_is_comparison(BinaryOp op) { return op >= BinaryOp::Eq && op <= BinaryOp::Ge; }
// Ops whose output is bool whatever the compute dtype (comparisons and logical ops).
inline bool binary_bool_output(BinaryOp op) { return op >= BinaryOp::Eq && op <= BinaryOp::LogicalXor; }

namespace binary_fn {

template <typename T> RV_HOST_DEVICE RV_INLINE T floor_div(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    if (b == T(0)) return a / b;
    T m = std::fmod(a, b);
    T d = (a - m) / b;
    if (m != T(0) && ((b < T(0)) != (m < T(0)))) d -= T(1);
    T r = std::floor(d);
    if (d - r > T(0.5)) r += T(1);
    return d == T(0) ? std::copysign(T(0), a / b) : r;
  } else if constexpr (std::is_same_v<T, bool>) {
    return a;
  } else {
    if (b == 0) return 0;
    if (std::is_signed_v<T> && b == T(-1)) return T(T(0) - a);
    T q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) q -= 1;
    return q;
  }
}

template <typename T> RV_HOST_DEVICE RV_INLINE T trunc_div(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    return std::trunc(a / b);
  } else if constexpr (std::is_same_v<T, bool>) {
    return a;
  } else {
    if (b == 0) return 0;
    if (std::is_signed_v<T> && b == T(-1)) return T(T(0) - a);
    return T(a / b);
  }
}

template <typename T> RV_HOST_DEVICE RV_INLINE T fmod(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    return std::fmod(a, b);
  } else if constexpr (std::is_same_v<T, bool>) {
    return false;
  } else {
    if (b == 0 || (std::is_signed_v<T> && b == T(-1))) return 0;
    return T(a % b);
  }
}

template <typename T> RV_HOST_DEVICE RV_INLINE T remainder(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    T m = std::fmod(a, b);
    if (m != T(0) && ((b < T(0)) != (m < T(0)))) m += b;
    return m;
  } else if constexpr (std::is_same_v<T, bool>) {
    return false;
  } else {
    if (b == 0 || (std::is_signed_v<T> && b == T(-1))) return 0;
    T m = a % b;
    if (m != 0 && ((b < 0) != (m < 0))) m += b;
    return m;
  }
}

template <typename T> RV_HOST_DEVICE RV_INLINE T power(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    return std::pow(a, b);
  } else if constexpr (std::is_same_v<T, bool>) {
    return a || !b;
  } else {
    // integer power by squaring; a negative exponent gives 1/a truncated (0 unless |a| == 1)
    if constexpr (std::is_signed_v<T>) {
      if (b < 0) {
        if (a == 1) return 1;
        if (a == -1) return (b & 1) ? T(-1) : T(1);
        return 0;
      }
    }
    T result = 1;
    T base = a;
    T e = b;
    while (e > 0) {
      if (e & 1) result = T(result * base);
      base = T(base * base);
      e >>= 1;
    }
    return result;
  }
}

template <typename T> RV_HOST_DEVICE RV_INLINE T minimum(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    if (a != a) return a;
    if (b != b) return b;
  }
  return a < b ? a : b;
}

template <typename T> RV_HOST_DEVICE RV_INLINE T maximum(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    if (a != a) return a;
    if (b != b) return b;
  }
  return a > b ? a : b;
}

}  // namespace binary_fn

// Calls f(functor) with the functor of op for compute type T. Comparisons return bool.
template <typename T, typename F>
RV_HOST_DEVICE void with_binary_functor(BinaryOp op, F&& f) {
  using namespace binary_fn;
  switch (op) {
    case BinaryOp::Add:
      if constexpr (std::is_same_v<T, bool>) return f([](T a, T b) -> T { return a || b; });
      else return f([](T a, T b) -> T { return T(a + b); });
    case BinaryOp::Sub: return f([](T a, T b) -> T { return T(a - b); });
    case BinaryOp::Mul:
      if constexpr (std::is_same_v<T, bool>) return f([](T a, T b) -> T { return a && b; });
      else return f([](T a, T b) -> T { return T(a * b); });
    case BinaryOp::Div:
      if constexpr (std::is_integral_v<T>) return f([](T a, T b) -> T { return b ? T(a / b) : T(0); });
      else return f([](T a, T b) -> T { return a / b; });
    case BinaryOp::TruncDiv: return f([](T a, T b) -> T { return trunc_div(a, b); });
    case BinaryOp::FloorDiv: return f([](T a, T b) -> T { return floor_div(a, b); });
    case BinaryOp::Remainder: return f([](T a, T b) -> T { return remainder(a, b); });
    case BinaryOp::Fmod: return f([](T a, T b) -> T { return binary_fn::fmod(a, b); });
    case BinaryOp::Pow: return f([](T a, T b) -> T { return power(a, b); });
    case BinaryOp::Minimum: return f([](T a, T b) -> T { return minimum(a, b); });
    case BinaryOp::ReluGrad: return f([](T a, T b) -> T { return b > T(0) ? a : T(0); });
    case BinaryOp::Maximum: return f([](T a, T b) -> T { return maximum(a, b); });
    case BinaryOp::Atan2:
      if constexpr (std::is_floating_point_v<T>) return f([](T a, T b) -> T { return std::atan2(a, b); });
      else return;
    case BinaryOp::BitAnd:
      if constexpr (std::is_integral_v<T>) return f([](T a, T b) -> T { return T(a & b); });
      else return;
    case BinaryOp::BitOr:
      if constexpr (std::is_integral_v<T>) return f([](T a, T b) -> T { return T(a | b); });
      else return;
    case BinaryOp::BitXor:
      if constexpr (std::is_integral_v<T>) return f([](T a, T b) -> T { return T(a ^ b); });
      else return;
    case BinaryOp::Eq: return f([](T a, T b) -> bool { return a == b; });
    case BinaryOp::Ne: return f([](T a, T b) -> bool { return a != b; });
    case BinaryOp::Lt: return f([](T a, T b) -> bool { return a < b; });
    case BinaryOp::Le: return f([](T a, T b) -> bool { return a <= b; });
    case BinaryOp::Gt: return f([](T a, T b) -> bool { return a > b; });
    case BinaryOp::Ge: return f([](T a, T b) -> bool { return a >= b; });
    case BinaryOp::LogicalAnd: return f([](T a, T b) -> bool { return bool(a) && bool(b); });
    case BinaryOp::LogicalOr: return f([](T a, T b) -> bool { return bool(a) || bool(b); });
    case BinaryOp::LogicalXor: return f([](T a, T b) -> bool { return bool(a) != bool(b); });
    default: return;
  }
}

}  // namespace ranvier
