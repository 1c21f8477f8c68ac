// Ternary elementwise ops: op codes and functors, written once for CPU and CUDA. Operand 1 of
// Where is the bool condition; every other operand arrives in the compute dtype T.
//   Where(c, x, y)      c ? x : y
//   Lerp(s, e, w)       s + w * (e - s), computed from the nearer end for |w| >= 0.5
//   Clamp(x, lo, hi)    min(max(x, lo), hi); NaN in x stays NaN
//   Addcmul(s, a, b)    s + alpha * a * b
//   Addcdiv(s, a, b)    s + alpha * a / b
#pragma once
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "kernels/common/macros.h"

namespace ranvier {

enum class TernaryOp : int8_t { Where, Lerp, Clamp, Addcmul, Addcdiv, Count };

// Calls f(functor) with the functor of op for compute type T; alpha is Addcmul/Addcdiv's value.
template <typename T, typename F>
RV_HOST_DEVICE void with_ternary_functor(TernaryOp op, double alpha, F&& f) {
  constexpr bool kFloat = std::is_floating_point_v<T>;
  constexpr bool kBool = std::is_same_v<T, bool>;
  switch (op) {
    case TernaryOp::Clamp:
      return f([](T x, T lo, T hi) -> T {
        T r = x < lo ? lo : x;
        return r > hi ? hi : r;
      });
    case TernaryOp::Lerp:
      if constexpr (kFloat) {
        return f([](T s, T e, T w) -> T {
          T d = e - s;
          return std::abs(w) < T(0.5) ? s + w * d : e - d * (T(1) - w);
        });
      } else {
        return;
      }
    case TernaryOp::Addcmul:
      if constexpr (kBool) {
        return;
      } else {
        const T v = T(alpha);
        return f([v](T s, T a, T b) -> T { return T(s + v * a * b); });
      }
    case TernaryOp::Addcdiv:
      if constexpr (kFloat) {
        const T v = T(alpha);
        return f([v](T s, T a, T b) -> T { return s + v * a / b; });
      } else {
        return;
      }
    default: return;
  }
}

}  // namespace ranvier
