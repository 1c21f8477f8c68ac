// Unary elementwise CPU kernel (multi-arch, see simd_level.h).
#include "core/dtype.h"
#include "kernels/cpu/loops.h"
#include "kernels/cpu/simd/elementwise_kernels.h"
#include "kernels/cpu/simd/simd_level.h"
#include "kernels/cpu/vec_math.h"

namespace ranvier::cpu::RV_SIMD_NS {

namespace {
template <typename T, typename R, typename F>
void unary_rows(const LoopSpec& s, const F& fn) {
  for_each_row(s, [&](char** p, const int64_t* st, int64_t n) {
    // A copy of the functor: its captured parameters are then locals the row's stores cannot
    // alias, so they stay in registers and the loop vectorises (read through the reference,
    // a leaky_relu ran one element at a time with a branch: 2.5 ms for 0.5 M floats).
    const F f = fn;
    R* o = reinterpret_cast<R*>(p[0]);
    const T* a = reinterpret_cast<const T*>(p[1]);
    if (st[0] == 1 && st[1] == 1) {
      for (int64_t i = 0; i < n; ++i) o[i] = f(a[i]);
    } else {
      for (int64_t i = 0; i < n; ++i) o[i * st[0]] = f(a[i * st[1]]);
    }
  });
}
// Float32 ops whose libm calls would keep the loop scalar get vec_math.h's branch-free forms;
// false leaves the op to the shared functors of unary_ops.h.
// (GCC would otherwise call the larger ones per element instead of vectorising the loop.)
#define RV_INLINE_FN(expr) [](float x) __attribute__((always_inline)) { return expr; }
template <typename F>
bool with_vec_float_functor(UnaryOp op, const UnaryArgs& args, const F& f) {
  switch (op) {
    case UnaryOp::Exp: f(RV_INLINE_FN(vm::exp(x))); return true;
    case UnaryOp::Expm1: f(RV_INLINE_FN(vm::expm1(x))); return true;
    case UnaryOp::Log: f(RV_INLINE_FN(vm::log(x))); return true;
    case UnaryOp::Log1p: f(RV_INLINE_FN(vm::log1p(x))); return true;
    case UnaryOp::Sqrt: f(RV_INLINE_FN(std::sqrt(x))); return true;
    case UnaryOp::Rsqrt: f(RV_INLINE_FN(1.0f / std::sqrt(x))); return true;
    case UnaryOp::Tanh: f(RV_INLINE_FN(vm::tanh(x))); return true;
    case UnaryOp::Sigmoid: f(RV_INLINE_FN(vm::sigmoid(x))); return true;
    case UnaryOp::Silu: f(RV_INLINE_FN(x * vm::sigmoid(x))); return true;
    case UnaryOp::LogSigmoid:
      f(RV_INLINE_FN(std::min(x, 0.0f) - vm::log1p(vm::exp(-std::fabs(x)))));
      return true;
    case UnaryOp::Erf: f(RV_INLINE_FN(vm::erf(x))); return true;
    case UnaryOp::Gelu: f(RV_INLINE_FN(0.5f * x * (1.0f + vm::erf(x * 0.70710678118654752f))));
      return true;
    case UnaryOp::Softplus: {
      const float beta = float(args.a), threshold = float(args.b);
      f([beta, threshold](float x) __attribute__((always_inline)) {
        return x * beta > threshold ? x : vm::log1p(vm::exp(x * beta)) / beta;
      });
      return true;
    }
    case UnaryOp::LeakyRelu: {
      const float slope = float(args.a);
      f([slope](float x) __attribute__((always_inline)) { return x > 0.0f ? x : x * slope; });
      return true;
    }
    default: return false;
  }
}
#undef RV_INLINE_FN
}  // namespace

void unary_kernel(UnaryOp op, const LoopSpec& s, const UnaryArgs& args) {
  bool done = false;
#if RV_SIMD_LEVEL > 0
  // Only the floating types gain from wider vectors; integer and bool work goes to the
  // baseline copy (this keeps the AVX2/AVX-512 copies small to compile).
  if (s.dtypes[1] != DType::Float32 && s.dtypes[1] != DType::Float64) {
    simd0::unary_kernel(op, s, args);
    return;
  }
  RV_DISPATCH_FLOAT(s.dtypes[1], "unary op", [&] {
#else
  RV_DISPATCH_COMPUTE(s.dtypes[1], "unary op", [&] {
#endif
    if constexpr (std::is_same_v<scalar_t, float>) {
      if (with_vec_float_functor(op, args, [&](auto f) { unary_rows<float, float>(s, f); })) {
        done = true;
        return;
      }
    }
    with_unary_functor<scalar_t>(op, args, [&](auto f) {
      using R = decltype(f(scalar_t()));
      unary_rows<scalar_t, R>(s, f);
      done = true;
    });
  });
  RV_INTERNAL_ASSERT(done, "unary op ", int(op), " has no kernel for dtype ",
                     dtype_name(s.dtypes[1]));
}

}  // namespace ranvier::cpu::RV_SIMD_NS
