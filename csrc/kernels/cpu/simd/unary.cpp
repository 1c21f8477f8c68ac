// Unary elementwise CPU kernel (multi-arch, see simd_level.h).
#include "core/dtype.h"
#include "kernels/cpu/loops.h"
#include "kernels/cpu/simd/elementwise_kernels.h"
#include "kernels/cpu/simd/simd_level.h"

namespace ranvier::cpu::RV_SIMD_NS {

namespace {
template <typename T, typename R, typename F>
void unary_rows(const LoopSpec& s, const F& f) {
  for_each_row(s, [&](char** p, const int64_t* st, int64_t n) {
    R* o = reinterpret_cast<R*>(p[0]);
    const T* a = reinterpret_cast<const T*>(p[1]);
    if (st[0] == 1 && st[1] == 1) {
      for (int64_t i = 0; i < n; ++i) o[i] = f(a[i]);
    } else {
      for (int64_t i = 0; i < n; ++i) o[i * st[0]] = f(a[i * st[1]]);
    }
  });
}
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
