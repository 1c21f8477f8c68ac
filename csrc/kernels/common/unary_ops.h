// Unary elementwise ops: op codes and functors, written once for CPU and CUDA. Kernels get
// the input already in the compute dtype T; float-only ops (exp, sin, ...) are given float
// input by the op layer. IsNan/IsInf/IsFinite/LogicalNot produce bool.
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "kernels/common/macros.h"

namespace ranvier {

enum class UnaryOp : int8_t {
  Identity, Neg, Abs, Sign, Reciprocal, Square,
  Exp, Exp2, Expm1, Log, Log1p, Log2, Log10, Sqrt, Rsqrt,
  Sin, Cos, Tan, Asin, Acos, Atan, Sinh, Cosh, Tanh, Sigmoid, LogSigmoid,
  Relu, Gelu, GeluTanh, Silu, Softplus, LeakyRelu, Erf, Erfc,
  Floor, Ceil, Round, Trunc, Frac, RoundDecimals,
  Clamp, NanToNum, PowScalar, Fill, BitNot,
  LogicalNot, IsNan, IsInf, IsFinite, SignBit,
  Count
};

// Parameters of the parametrised ops: Clamp(a=min, b=max), Softplus(a=beta, b=threshold),
// LeakyRelu(a=negative_slope),
// NanToNum(a=nan, b=posinf, c=neginf), PowScalar(a=exponent), Fill(a=value),
// RoundDecimals(a=10^|decimals|, b=+1 for decimals > 0, -1 for decimals < 0).
struct UnaryArgs {
  double a = 0, b = 0, c = 0;
};

inline bool unary_is_predicate(UnaryOp op) { return op >= UnaryOp::LogicalNot; }
// Ops that need a floating input (integers are converted to the default float first).
inline bool unary_needs_float(UnaryOp op) {
  return (op >= UnaryOp::Reciprocal && op <= UnaryOp::Erfc && op != UnaryOp::Square &&
          op != UnaryOp::Relu) ;
}

namespace unary_fn {
template <typename T> RV_HOST_DEVICE RV_INLINE T sigmoid(T x) {
  return T(1) / (T(1) + std::exp(-x));
}
template <typename T> RV_HOST_DEVICE RV_INLINE T round_half_even(T x) {
  return std::nearbyint(x);
}
}  // namespace unary_fn

template <typename T, typename F>
RV_HOST_DEVICE void with_unary_functor(UnaryOp op, const UnaryArgs& args, F&& f) {
  using namespace unary_fn;
  constexpr bool kFloat = std::is_floating_point_v<T>;
  constexpr bool kBool = std::is_same_v<T, bool>;
  switch (op) {
    case UnaryOp::Identity: return f([](T x) -> T { return x; });
    case UnaryOp::Neg:
      if constexpr (kBool) return;
      else return f([](T x) -> T { return T(-x); });
    case UnaryOp::Abs:
      if constexpr (kFloat) return f([](T x) -> T { return std::abs(x); });
      else if constexpr (kBool || std::is_unsigned_v<T>) return f([](T x) -> T { return x; });
      else return f([](T x) -> T { return x < 0 ? T(-x) : x; });
    case UnaryOp::Sign:
      if constexpr (kBool) return f([](T x) -> T { return x; });
      else return f([](T x) -> T { return T((T(0) < x) - (x < T(0))); });
    case UnaryOp::Square:
      if constexpr (kBool) return f([](T x) -> T { return x; });
      else return f([](T x) -> T { return T(x * x); });
    case UnaryOp::Relu:
      if constexpr (kBool) return f([](T x) -> T { return x; });
      else return f([](T x) -> T { return x > T(0) ? x : T(0); });
    case UnaryOp::Fill: {
      const T v = T(args.a);
      return f([v](T) -> T { return v; });
    }
    case UnaryOp::Clamp: {
      // min(max(x, lo), hi): hi wins when lo > hi; a NaN x stays NaN
      if constexpr (kFloat) {
        const T lo = T(args.a), hi = T(args.b);
        return f([lo, hi](T x) -> T {
          T r = x < lo ? lo : x;
          return r > hi ? hi : r;
        });
      } else {
        // bounds arrive as doubles already clipped to T's range by the op layer
        const double lo = args.a, hi = args.b;
        return f([lo, hi](T x) -> T {
          T r = double(x) < lo ? T(lo) : x;
          return double(r) > hi ? T(hi) : r;
        });
      }
    }
    case UnaryOp::BitNot:
      if constexpr (kBool) return f([](T x) -> T { return !x; });
      else if constexpr (!kFloat) return f([](T x) -> T { return T(~x); });
      else return;
    case UnaryOp::LogicalNot: return f([](T x) -> bool { return !bool(x); });
    case UnaryOp::IsNan: return f([](T x) -> bool { return x != x; });
    case UnaryOp::IsInf:
      if constexpr (kFloat) return f([](T x) -> bool { return std::isinf(x); });
      else return f([](T) -> bool { return false; });
    case UnaryOp::IsFinite:
      if constexpr (kFloat) return f([](T x) -> bool { return std::isfinite(x); });
      else return f([](T) -> bool { return true; });
    case UnaryOp::SignBit:
      if constexpr (kFloat) return f([](T x) -> bool { return std::signbit(x); });
      else return f([](T x) -> bool { return x < T(0); });
    case UnaryOp::Floor:
      if constexpr (kFloat) return f([](T x) -> T { return std::floor(x); });
      else return f([](T x) -> T { return x; });
    case UnaryOp::Ceil:
      if constexpr (kFloat) return f([](T x) -> T { return std::ceil(x); });
      else return f([](T x) -> T { return x; });
    case UnaryOp::Round:
      if constexpr (kFloat) return f([](T x) -> T { return round_half_even(x); });
      else return f([](T x) -> T { return x; });
    case UnaryOp::Trunc:
      if constexpr (kFloat) return f([](T x) -> T { return std::trunc(x); });
      else return f([](T x) -> T { return x; });
    case UnaryOp::Frac:
      if constexpr (kFloat) return f([](T x) -> T { return x - std::trunc(x); });
      else return f([](T) -> T { return T(0); });
    case UnaryOp::RoundDecimals:
      if constexpr (kFloat) {
        const T p = T(args.a);
        if (args.b > 0) return f([p](T x) -> T { return round_half_even(x * p) / p; });
        return f([p](T x) -> T { return round_half_even(x / p) * p; });
      } else {
        return;
      }
    case UnaryOp::PowScalar:
      if constexpr (kFloat) {
        const T e = T(args.a);
        if (e == T(2)) return f([](T x) -> T { return x * x; });
        if (e == T(3)) return f([](T x) -> T { return x * x * x; });
        if (e == T(1)) return f([](T x) -> T { return x; });
        if (e == T(-1)) return f([](T x) -> T { return T(1) / x; });
        if (e == T(0.5)) return f([](T x) -> T { return std::sqrt(x); });
        return f([e](T x) -> T { return std::pow(x, e); });
      } else if constexpr (kBool) {
        return;
      } else {
        const int64_t e = int64_t(args.a);
        return f([e](T x) -> T {
          T r = 1, b = x;
          for (int64_t k = e; k > 0; k >>= 1) {
            if (k & 1) r = T(r * b);
            b = T(b * b);
          }
          return r;
        });
      }
    default: break;
  }
  if constexpr (kFloat) {
    switch (op) {
      case UnaryOp::Reciprocal: return f([](T x) -> T { return T(1) / x; });
      case UnaryOp::Exp: return f([](T x) -> T { return std::exp(x); });
      case UnaryOp::Exp2: return f([](T x) -> T { return std::exp2(x); });
      case UnaryOp::Expm1: return f([](T x) -> T { return std::expm1(x); });
      case UnaryOp::Log: return f([](T x) -> T { return std::log(x); });
      case UnaryOp::Log1p: return f([](T x) -> T { return std::log1p(x); });
      case UnaryOp::Log2: return f([](T x) -> T { return std::log2(x); });
      case UnaryOp::Log10: return f([](T x) -> T { return std::log10(x); });
      case UnaryOp::Sqrt: return f([](T x) -> T { return std::sqrt(x); });
      case UnaryOp::Rsqrt: return f([](T x) -> T { return T(1) / std::sqrt(x); });
      case UnaryOp::Sin: return f([](T x) -> T { return std::sin(x); });
      case UnaryOp::Cos: return f([](T x) -> T { return std::cos(x); });
      case UnaryOp::Tan: return f([](T x) -> T { return std::tan(x); });
      case UnaryOp::Asin: return f([](T x) -> T { return std::asin(x); });
      case UnaryOp::Acos: return f([](T x) -> T { return std::acos(x); });
      case UnaryOp::Atan: return f([](T x) -> T { return std::atan(x); });
      case UnaryOp::Sinh: return f([](T x) -> T { return std::sinh(x); });
      case UnaryOp::Cosh: return f([](T x) -> T { return std::cosh(x); });
      case UnaryOp::Tanh: return f([](T x) -> T { return std::tanh(x); });
      case UnaryOp::Sigmoid: return f([](T x) -> T { return sigmoid(x); });
      case UnaryOp::LogSigmoid:
        return f([](T x) -> T { return (x < T(0) ? x : T(0)) - std::log1p(std::exp(-std::abs(x))); });
      case UnaryOp::Gelu:
        return f([](T x) -> T { return T(0.5) * x * (T(1) + std::erf(x * T(0.70710678118654752440))); });
      case UnaryOp::GeluTanh:
        return f([](T x) -> T {
          const T k = T(0.79788456080286535588);  // sqrt(2 / pi)
          return T(0.5) * x * (T(1) + std::tanh(k * (x + T(0.044715) * x * x * x)));
        });
      case UnaryOp::Silu: return f([](T x) -> T { return x / (T(1) + std::exp(-x)); });
      case UnaryOp::Softplus: {
        const T beta = T(args.a), threshold = T(args.b);
        return f([beta, threshold](T x) -> T {
          return x * beta > threshold ? x : std::log1p(std::exp(x * beta)) / beta;
        });
      }
      case UnaryOp::LeakyRelu: {
        const T slope = T(args.a);
        return f([slope](T x) -> T { return x > T(0) ? x : x * slope; });
      }
      case UnaryOp::Erf: return f([](T x) -> T { return std::erf(x); });
      case UnaryOp::Erfc: return f([](T x) -> T { return std::erfc(x); });
      case UnaryOp::NanToNum: {
        const T nan_v = T(args.a), pos = T(args.b), neg = T(args.c);
        return f([nan_v, pos, neg](T x) -> T {
          return x != x ? nan_v : (std::isinf(x) ? (x > 0 ? pos : neg) : x);
        });
      }
      default: return;
    }
  }
}

}  // namespace ranvier
