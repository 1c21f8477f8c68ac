// Binary elementwise CPU kernel (multi-arch, see simd_level.h): contiguous and
// scalar-broadcast rows get plain loops the compiler vectorises; other rows are strided.
#include "core/dtype.h"
#include "kernels/cpu/loops.h"
#include "kernels/cpu/simd/elementwise_kernels.h"
#include "kernels/cpu/simd/simd_level.h"

namespace ranvier::cpu::RV_SIMD_NS {

namespace {
template <typename T, typename R, typename F>
void binary_rows(const LoopSpec& s, const F& f) {
  for_each_row(s, [&](char** p, const int64_t* st, int64_t n) {
    R* o = reinterpret_cast<R*>(p[0]);
    const T* a = reinterpret_cast<const T*>(p[1]);
    const T* b = reinterpret_cast<const T*>(p[2]);
    if (st[0] == 1 && st[1] == 1 && st[2] == 1) {
      for (int64_t i = 0; i < n; ++i) o[i] = f(a[i], b[i]);
    } else if (st[0] == 1 && st[1] == 1 && st[2] == 0) {
      const T bv = *b;
      for (int64_t i = 0; i < n; ++i) o[i] = f(a[i], bv);
    } else if (st[0] == 1 && st[1] == 0 && st[2] == 1) {
      const T av = *a;
      for (int64_t i = 0; i < n; ++i) o[i] = f(av, b[i]);
    } else {
      for (int64_t i = 0; i < n; ++i) o[i * st[0]] = f(a[i * st[1]], b[i * st[2]]);
    }
  });
}
}  // namespace

void binary_kernel(BinaryOp op, const LoopSpec& s) {
  bool done = false;
#if RV_SIMD_LEVEL > 0
  // Only the floating types gain from wider vectors; integer and bool work goes to the
  // baseline copy (this keeps the AVX2/AVX-512 copies small to compile).
  if (s.dtypes[1] != DType::Float32 && s.dtypes[1] != DType::Float64) {
    simd0::binary_kernel(op, s);
    return;
  }
  RV_DISPATCH_FLOAT(s.dtypes[1], "binary op", [&] {
#else
  RV_DISPATCH_COMPUTE(s.dtypes[1], "binary op", [&] {
#endif
    with_binary_functor<scalar_t>(op, [&](auto f) {
      using R = decltype(f(scalar_t(), scalar_t()));
      binary_rows<scalar_t, R>(s, f);
      done = true;
    });
  });
  RV_INTERNAL_ASSERT(done, "binary op ", int(op), " has no kernel for dtype ",
                     dtype_name(s.dtypes[1]));
}

}  // namespace ranvier::cpu::RV_SIMD_NS
