// Ternary elementwise CPU kernel (multi-arch, see simd_level.h): where, lerp, clamp with
// tensor bounds, addcmul, addcdiv. Contiguous rows and rows whose two last operands are
// broadcast scalars get plain loops the compiler vectorises; other rows are strided.
#include "core/dtype.h"
#include "kernels/cpu/loops.h"
#include "kernels/cpu/simd/elementwise_kernels.h"
#include "kernels/cpu/simd/simd_level.h"

namespace ranvier::cpu::RV_SIMD_NS {

namespace {
// A is operand 1's type (bool for Where), T the type of the output and operands 2 and 3.
template <typename A, typename T, typename F>
void ternary_rows(const LoopSpec& s, const F& f) {
  for_each_row(s, [&](char** p, const int64_t* st, int64_t n) {
    T* o = reinterpret_cast<T*>(p[0]);
    const A* a = reinterpret_cast<const A*>(p[1]);
    const T* b = reinterpret_cast<const T*>(p[2]);
    const T* c = reinterpret_cast<const T*>(p[3]);
    if (st[0] == 1 && st[1] == 1 && st[2] == 1 && st[3] == 1) {
      for (int64_t i = 0; i < n; ++i) o[i] = f(a[i], b[i], c[i]);
    } else if (st[0] == 1 && st[1] == 1 && st[2] == 0 && st[3] == 0) {
      const T bv = *b, cv = *c;
      for (int64_t i = 0; i < n; ++i) o[i] = f(a[i], bv, cv);
    } else if (st[0] == 1 && st[1] == 1 && st[2] == 1 && st[3] == 0) {
      const T cv = *c;
      for (int64_t i = 0; i < n; ++i) o[i] = f(a[i], b[i], cv);
    } else {
      for (int64_t i = 0; i < n; ++i) o[i * st[0]] = f(a[i * st[1]], b[i * st[2]], c[i * st[3]]);
    }
  });
}

// Where copies elements: it runs on every dtype (half types included) bit for bit.
template <typename T>
void where_rows(const LoopSpec& s) {
  using U = std::conditional_t<sizeof(T) == 1, uint8_t,
            std::conditional_t<sizeof(T) == 2, uint16_t,
            std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>>>;
  ternary_rows<bool, U>(s, [](bool c, U x, U y) -> U { return c ? x : y; });
}
}  // namespace

void ternary_kernel(TernaryOp op, const LoopSpec& s, double alpha) {
  if (op == TernaryOp::Where) {
    RV_DISPATCH_ALL(s.dtypes[0], "where", [&] { where_rows<scalar_t>(s); });
    return;
  }
  bool done = false;
  RV_DISPATCH_COMPUTE(s.dtypes[0], "ternary op", [&] {
    with_ternary_functor<scalar_t>(op, alpha, [&](auto f) {
      ternary_rows<scalar_t, scalar_t>(s, f);
      done = true;
    });
  });
  RV_INTERNAL_ASSERT(done, "ternary op ", int(op), " has no kernel for dtype ",
                     dtype_name(s.dtypes[0]));
}

}  // namespace ranvier::cpu::RV_SIMD_NS
