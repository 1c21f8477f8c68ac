// The CUDA reduction's per-output math (reduce.cu), host-callable so that the host-side test
// (csrc/cuda/test/reduce_math_test.cu) runs the very same code:
//   - accumulators (init / step / combine / value) for every ReduceOp, in the CPU kernel's
//     wide types: double for float sums, products and norms, int64 for integer ones;
//   - inner_offset(): the input offset of inner element i of one output (row-major over the
//     reduced dims);
//   - reduce_strided(): what thread t of nthreads accumulates for one output: inner elements
//     t, t + nthreads, t + 2 nthreads, ... left to right;
//   - tree_combine(): the fixed pairwise tree that merges those nthreads partial results
//     (slot i takes slot i + half, half = nthreads/2, nthreads/4, ..., 1).
// Note [Deterministic CUDA reductions]: nthreads is a constant of the kernel (never derived
// from the grid or the device), so an output's combination order is fixed by its size alone.
// Max/Min with index keep the FIRST winner: a tie between partial results goes to the lower
// index, whichever side of the tree it comes from.
#pragma once
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "cuda/dtypes.cuh"
#include "kernels/common/macros.h"
#include "kernels/common/reduce_spec.h"

namespace ranvier::cuda::reduce_math {

template <typename T> struct WideOf { using type = int64_t; };
template <> struct WideOf<float> { using type = double; };
template <> struct WideOf<double> { using type = double; };

template <typename T> RV_HOST_DEVICE RV_INLINE bool is_nan(T v) {
  if constexpr (std::is_floating_point_v<T>) return v != v;
  else return false;
}

template <typename T>
struct SumAcc {
  using acc_t = typename WideOf<T>::type;
  static constexpr bool kIndex = false;
  RV_HOST_DEVICE acc_t init() const { return acc_t(0); }
  RV_HOST_DEVICE void step(acc_t& a, T x, int64_t) const { a += acc_t(x); }
  RV_HOST_DEVICE void combine(acc_t& a, const acc_t& b) const { a += b; }
  template <typename Out> RV_HOST_DEVICE Out value(const acc_t& a) const { return Out(a); }
};

template <typename T>
struct ProdAcc {
  using acc_t = typename WideOf<T>::type;
  static constexpr bool kIndex = false;
  RV_HOST_DEVICE acc_t init() const { return acc_t(1); }
  RV_HOST_DEVICE void step(acc_t& a, T x, int64_t) const { a *= acc_t(x); }
  RV_HOST_DEVICE void combine(acc_t& a, const acc_t& b) const { a *= b; }
  template <typename Out> RV_HOST_DEVICE Out value(const acc_t& a) const { return Out(a); }
};

// Max (kMax) or min with the index of the first winner; NaN wins and the first NaN stays.
template <typename T, bool kMax>
struct ExtremeAcc {
  struct acc_t {
    T v;
    int64_t i;
  };
  static constexpr bool kIndex = true;
  RV_HOST_DEVICE static bool better(T x, T cur) {
    if (is_nan(cur)) return false;
    if (is_nan(x)) return true;
    return kMax ? (x > cur) : (x < cur);
  }
  RV_HOST_DEVICE acc_t init() const { return acc_t{T(0), -1}; }
  RV_HOST_DEVICE void step(acc_t& a, T x, int64_t i) const {
    if (a.i < 0 || better(x, a.v)) a = acc_t{x, i};
  }
  RV_HOST_DEVICE void combine(acc_t& a, const acc_t& b) const {
    if (b.i < 0) return;
    if (a.i < 0 || better(b.v, a.v) || (!better(a.v, b.v) && b.i < a.i)) a = b;
  }
  template <typename Out> RV_HOST_DEVICE Out value(const acc_t& a) const { return Out(a.v); }
};

// Max / min value only; NaN wins. Order-independent.
template <typename T, bool kMax>
struct ValueExtremeAcc {
  using acc_t = T;
  static constexpr bool kIndex = false;
  RV_HOST_DEVICE acc_t init() const {
    if constexpr (std::is_floating_point_v<T>)
      return kMax ? T(-INFINITY) : T(INFINITY);
    else if constexpr (std::is_same_v<T, bool>)
      return !kMax;
    else if constexpr (std::is_same_v<T, uint8_t>)
      return kMax ? T(0) : T(255);
    else if constexpr (std::is_same_v<T, int32_t>)
      return kMax ? T(INT32_MIN) : T(INT32_MAX);
    else
      return kMax ? T(INT64_MIN) : T(INT64_MAX);
  }
  RV_HOST_DEVICE void step(acc_t& a, T x, int64_t) const {
    if constexpr (std::is_floating_point_v<T>) a = ((kMax ? x > a : x < a) || x != x) ? x : a;
    else a = kMax ? (x > a ? x : a) : (x < a ? x : a);
  }
  RV_HOST_DEVICE void combine(acc_t& a, const acc_t& b) const { step(a, b, 0); }
  template <typename Out> RV_HOST_DEVICE Out value(const acc_t& a) const { return Out(a); }
};

template <typename T, bool kAll>
struct LogicAcc {
  using acc_t = bool;
  static constexpr bool kIndex = false;
  RV_HOST_DEVICE acc_t init() const { return kAll; }
  RV_HOST_DEVICE void step(acc_t& a, T x, int64_t) const {
    if (kAll) a = a && (x != T(0));
    else a = a || (x != T(0));
  }
  RV_HOST_DEVICE void combine(acc_t& a, const acc_t& b) const { a = kAll ? (a && b) : (a || b); }
  template <typename Out> RV_HOST_DEVICE Out value(const acc_t& a) const { return Out(a); }
};

// p-norms in double. mode: 0 (p = 0: count of non-zeros), 1, 2, 3 (inf), 4 (-inf), 5 (other).
template <typename T>
struct NormAcc {
  using acc_t = double;
  static constexpr bool kIndex = false;
  int mode = 2;
  double p = 2.0;
  RV_HOST_DEVICE acc_t init() const { return mode == 4 ? double(INFINITY) : 0.0; }
  RV_HOST_DEVICE void step(acc_t& a, T xv, int64_t) const {
    double x = std::fabs(double(xv));
    switch (mode) {
      case 0: a += (x != 0.0 ? 1.0 : 0.0); break;
      case 1: a += x; break;
      case 2: a += x * x; break;
      case 3: a = (x != x || a != a) ? x + a : (a > x ? a : x); break;
      case 4: a = (x != x || a != a) ? x + a : (a < x ? a : x); break;
      default: a += std::pow(x, p);
    }
  }
  RV_HOST_DEVICE void combine(acc_t& a, const acc_t& b) const {
    if (mode == 3) a = (a != a || b != b) ? a + b : (a > b ? a : b);
    else if (mode == 4) a = (a != a || b != b) ? a + b : (a < b ? a : b);
    else a += b;
  }
  template <typename Out> RV_HOST_DEVICE Out value(const acc_t& a) const {
    if (mode == 2) return Out(std::sqrt(a));
    if (mode == 5) return Out(std::pow(a, 1.0 / p));
    return Out(a);
  }
};

inline int norm_mode(double p) {
  if (p == 0) return 0;
  if (p == 1) return 1;
  if (p == 2) return 2;
  if (std::isinf(p)) return p > 0 ? 3 : 4;
  return 5;
}

// Input offset of the first element of output o.
RV_HOST_DEVICE RV_INLINE int64_t outer_offset(const ReduceSpec& s, int64_t o) {
  int64_t off = 0;
  for (int d = s.nouter - 1; d >= 0; --d) {
    off += (o % s.outer_sizes[d]) * s.outer_strides[d];
    o /= s.outer_sizes[d];
  }
  return off;
}

// Offset (from the output's base) of inner element i, row-major over the reduced dims.
RV_HOST_DEVICE RV_INLINE int64_t inner_offset(const ReduceSpec& s, int64_t i) {
  if (s.ninner == 1) return i * s.inner_strides[0];
  int64_t off = 0;
  for (int d = s.ninner - 1; d >= 0; --d) {
    off += (i % s.inner_sizes[d]) * s.inner_strides[d];
    i /= s.inner_sizes[d];
  }
  return off;
}

// Thread t's partial result for the output at base: inner elements t, t + nthreads, ...
// S: the stored element type, T or a 16-bit float read as T = float (load_as below).
template <typename T, typename S>
RV_HOST_DEVICE RV_INLINE T load_as(const S& v) {
  if constexpr (std::is_same_v<S, T>) return v;
  else return reduced_to_float(v);
}

template <typename T, typename Op, typename S>
RV_HOST_DEVICE RV_INLINE typename Op::acc_t reduce_strided(const ReduceSpec& s, const Op& op,
                                                          const S* in, int64_t base, int64_t t,
                                                          int64_t nthreads) {
  typename Op::acc_t a = op.init();
  for (int64_t i = t; i < s.inner_numel; i += nthreads)
    op.step(a, load_as<T>(in[base + inner_offset(s, i)]), i);
  return a;
}

// One step of the fixed tree: slot i (i < half) takes slot i + half.
template <typename Op>
RV_HOST_DEVICE RV_INLINE void tree_step(const Op& op, typename Op::acc_t* slots, int i, int half) {
  op.combine(slots[i], slots[i + half]);
}

// The whole tree on the host (the device runs the same steps with a barrier between levels).
template <typename Op>
void tree_combine_host(const Op& op, typename Op::acc_t* slots, int n) {
  for (int half = n / 2; half > 0; half /= 2)
    for (int i = 0; i < half; ++i) tree_step(op, slots, i, half);
}

// ---- row folds shared by the row kernels (softmax, cross_entropy, norms) ----
// A row function is written once against a Fold policy: fold(n, init, op, f) returns the
// combination over k in [0, n) of f(k), where lane l of L lanes folds k = l, l + L, ... left
// to right and the L partial results merge through the fixed tree above. On the device the
// lanes are the threads of a warp (WarpFold, L = 32) or of a block (BlockFold, L = 256); on the
// host (HostFold) one call computes every lane, so a host loop over lanes runs the very same
// row function and gets the device's combination order.
template <typename Acc, typename Op, typename F>
RV_HOST_DEVICE RV_INLINE Acc lane_fold(int64_t n, int lane, int nlanes, Acc init, const Op& op,
                                       const F& f) {
  // kAhead values in flight (the loads of a long row overlap), combined in order
  constexpr int kAhead = 8;
  Acc a = init;
  int64_t k = lane;
  for (; k + (kAhead - 1) * nlanes < n; k += kAhead * nlanes) {
    decltype(f(k)) v[kAhead];
#pragma unroll
    for (int j = 0; j < kAhead; ++j) v[j] = f(k + j * nlanes);
#pragma unroll
    for (int j = 0; j < kAhead; ++j) a = op(a, v[j]);
  }
  for (; k < n; k += nlanes) a = op(a, f(k));
  return a;
}

template <int L>
struct HostFold {
  static constexpr int kLanes = L;
  int lane = 0;
  template <typename Acc, typename Op, typename F>
  RV_HOST_DEVICE Acc operator()(int64_t n, Acc init, const Op& op, const F& f) const {
    Acc slots[L];
    for (int l = 0; l < L; ++l) slots[l] = lane_fold(n, l, L, init, op, f);
    for (int half = L / 2; half > 0; half /= 2)
      for (int i = 0; i < half; ++i) slots[i] = op(slots[i], slots[i + half]);
    return slots[0];
  }
};

struct SumOp {
  template <typename A> RV_HOST_DEVICE A operator()(A a, A b) const { return a + b; }
};
// max that keeps NaN (a NaN anywhere gives NaN).
struct NanMaxOp {
  template <typename A> RV_HOST_DEVICE A operator()(A a, A b) const {
    return (a != a) ? a : ((b != b) ? b : (a > b ? a : b));
  }
};

#if defined(__CUDACC__)
struct WarpFold {
  static constexpr int kLanes = 32;
  int lane;
  template <typename Acc, typename Op, typename F>
  __device__ Acc operator()(int64_t n, Acc init, const Op& op, const F& f) const {
    Acc v = lane_fold(n, lane, 32, init, op, f);
    for (int off = 16; off > 0; off /= 2) v = op(v, __shfl_down_sync(0xffffffffu, v, off));
    return __shfl_sync(0xffffffffu, v, 0);
  }
};

// Every thread of the block (blockDim.x == 256) must call it; slots: 256 doubles of shared
// memory. Acc is double or a smaller arithmetic type.
struct BlockFold {
  static constexpr int kLanes = 256;
  int lane;
  double* slots;
  template <typename Acc, typename Op, typename F>
  __device__ Acc operator()(int64_t n, Acc init, const Op& op, const F& f) const {
    Acc v = lane_fold(n, lane, 256, init, op, f);
    slots[lane] = double(v);
    __syncthreads();
    for (int half = 128; half > 0; half /= 2) {
      if (lane < half) slots[lane] = double(op(Acc(slots[lane]), Acc(slots[lane + half])));
      __syncthreads();
    }
    Acc r = Acc(slots[0]);
    __syncthreads();
    return r;
  }
};
#endif

}  // namespace ranvier::cuda::reduce_math
