// CPU reduction kernels: sum, prod, max/min (with or without the winner's index), all, any and
// p-norms, over any ReduceSpec. One driver (run_reduce) walks the outputs; each op is a small
// accumulator type (init / step / combine / value). Note [Deterministic reductions]: every
// output reduces its inner range in fixed kReduceBlock blocks combined left to right, whichever
// of the three walks (rows, columns, blocks in parallel) is taken, so the thread count never
// changes a result.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <immintrin.h>
#include <limits>
#include <memory>
#include <type_traits>
#include <vector>

#include "core/cpu_capability.h"
#include "core/parallel.h"
#include "kernels/common/macros.h"
#include "kernels/cpu/fast_math.h"
#include "ops/reduce.h"

namespace ranvier::cpu {

namespace {

// Offset (in elements) of the input element at outer index o.
int64_t outer_offset(const ReduceSpec& s, int64_t o) {
  int64_t off = 0;
  for (int d = s.nouter - 1; d >= 0; --d) {
    off += (o % s.outer_sizes[d]) * s.outer_strides[d];
    o /= s.outer_sizes[d];
  }
  return off;
}

// Calls f(offset, index) for inner elements [b, e) of one output element, in order.
template <typename F>
RV_INLINE void for_inner(const ReduceSpec& s, int64_t b, int64_t e, const F& f) {
  if (s.ninner == 0) {
    if (b < e) f(int64_t(0), int64_t(0));
    return;
  }
  const int nd = s.ninner;
  int64_t coord[kMaxDims];
  int64_t rem = b;
  for (int d = nd - 1; d >= 0; --d) {
    coord[d] = rem % s.inner_sizes[d];
    rem /= s.inner_sizes[d];
  }
  const int64_t last_stride = s.inner_strides[nd - 1];
  const int64_t last_size = s.inner_sizes[nd - 1];
  int64_t i = b;
  while (i < e) {
    int64_t base = 0;
    for (int d = 0; d < nd; ++d) base += coord[d] * s.inner_strides[d];
    int64_t n = last_size - coord[nd - 1];
    if (n > e - i) n = e - i;
    if (last_stride == 1) {
      for (int64_t k = 0; k < n; ++k) f(base + k, i + k);
    } else {
      for (int64_t k = 0; k < n; ++k) f(base + k * last_stride, i + k);
    }
    i += n;
    coord[nd - 1] += n;
    for (int d = nd - 1; d > 0 && coord[d] >= s.inner_sizes[d]; --d) {
      coord[d] = 0;
      coord[d - 1]++;
    }
  }
}

template <typename T> RV_INLINE bool is_nan(T v) {
  if constexpr (std::is_floating_point_v<T>) return v != v;
  else return false;
}

// ---- accumulators ----

template <typename T> struct WideOf { using type = int64_t; };  // integers and bool
template <> struct WideOf<float> { using type = double; };
template <> struct WideOf<double> { using type = double; };

template <typename T>
struct SumAcc {
  using acc_t = typename WideOf<T>::type;
  static constexpr bool kIndex = false;
  static constexpr bool kLanes = true;  // may use several partial sums inside a block
  acc_t init() const { return acc_t(0); }
  RV_INLINE void step(acc_t& a, T x, int64_t) const { a += acc_t(x); }
  RV_INLINE void combine(acc_t& a, const acc_t& b) const { a += b; }
  template <typename Out> Out value(const acc_t& a) const { return Out(a); }
};

template <typename T>
struct ProdAcc {
  using acc_t = typename WideOf<T>::type;
  static constexpr bool kIndex = false;
  static constexpr bool kLanes = false;
  acc_t init() const { return acc_t(1); }
  RV_INLINE void step(acc_t& a, T x, int64_t) const { a *= acc_t(x); }
  RV_INLINE void combine(acc_t& a, const acc_t& b) const { a *= b; }
  template <typename Out> Out value(const acc_t& a) const { return Out(a); }
};

// Max (kMax) or min with the index of the first winner; NaN wins and stays (first NaN).
template <typename T, bool kMax>
struct ExtremeAcc {
  struct acc_t {
    T v;
    int64_t i;
  };
  static constexpr bool kIndex = true;
  static constexpr bool kLanes = false;
  acc_t init() const { return acc_t{T(0), -1}; }
  RV_INLINE static bool better(T x, T cur) {
    if (is_nan(cur)) return false;
    if (is_nan(x)) return true;
    return kMax ? (x > cur) : (x < cur);
  }
  RV_INLINE void step(acc_t& a, T x, int64_t i) const {
    if (a.i < 0 || better(x, a.v)) a = acc_t{x, i};
  }
  RV_INLINE void combine(acc_t& a, const acc_t& b) const {
    if (b.i >= 0 && (a.i < 0 || better(b.v, a.v))) a = b;
  }
  template <typename Out> Out value(const acc_t& a) const { return Out(a.v); }
};

// Max (kMax) or min value only (no index); NaN wins. The result does not depend on the order
// of the elements, so several lanes may be used.
template <typename T, bool kMax>
struct ValueExtremeAcc {
  using acc_t = T;
  static constexpr bool kIndex = false;
  static constexpr bool kLanes = true;
  acc_t init() const {
    if constexpr (std::is_floating_point_v<T>)
      return kMax ? -std::numeric_limits<T>::infinity() : std::numeric_limits<T>::infinity();
    else
      return kMax ? std::numeric_limits<T>::lowest() : std::numeric_limits<T>::max();
  }
  RV_INLINE void step(acc_t& a, T x, int64_t) const {
    if constexpr (std::is_floating_point_v<T>) {
      // branch-free; once a is NaN neither test holds, so NaN sticks
      a = ((kMax ? x > a : x < a) || x != x) ? x : a;
    } else {
      a = kMax ? (x > a ? x : a) : (x < a ? x : a);
    }
  }
  RV_INLINE void combine(acc_t& a, const acc_t& b) const { step(a, b, 0); }
  template <typename Out> Out value(const acc_t& a) const { return Out(a); }
};

template <typename T, bool kAll>
struct LogicAcc {
  using acc_t = bool;
  static constexpr bool kIndex = false;
  static constexpr bool kLanes = false;
  acc_t init() const { return kAll; }
  RV_INLINE void step(acc_t& a, T x, int64_t) const {
    if (kAll) a = a && (x != T(0));
    else a = a || (x != T(0));
  }
  RV_INLINE void combine(acc_t& a, const acc_t& b) const { a = kAll ? (a && b) : (a || b); }
  template <typename Out> Out value(const acc_t& a) const { return Out(a); }
};

// p-norms in double. Mode: 0 (p = 0, count of non-zeros), 1, 2, 3 (inf), 4 (-inf), 5 (other p).
template <typename T, int kMode>
struct NormAcc {
  using acc_t = double;
  static constexpr bool kIndex = false;
  static constexpr bool kLanes = kMode == 1 || kMode == 2;
  double p = 2.0;
  acc_t init() const {
    return kMode == 4 ? std::numeric_limits<double>::infinity() : 0.0;
  }
  RV_INLINE void step(acc_t& a, T xv, int64_t) const {
    double x = std::abs(double(xv));
    if constexpr (kMode == 0) a += (x != 0.0 ? 1.0 : 0.0);
    else if constexpr (kMode == 1) a += x;
    else if constexpr (kMode == 2) a += x * x;
    else if constexpr (kMode == 3) a = (x != x || a != a) ? x + a : std::max(a, x);
    else if constexpr (kMode == 4) a = (x != x || a != a) ? x + a : std::min(a, x);
    else a += std::pow(x, p);
  }
  RV_INLINE void combine(acc_t& a, const acc_t& b) const {
    if constexpr (kMode == 3) a = (a != a || b != b) ? a + b : std::max(a, b);
    else if constexpr (kMode == 4) a = (a != a || b != b) ? a + b : std::min(a, b);
    else a += b;
  }
  template <typename Out> Out value(const acc_t& a) const {
    if constexpr (kMode == 2) return Out(std::sqrt(a));
    else if constexpr (kMode == 5) return Out(std::pow(a, 1.0 / p));
    else return Out(a);
  }
};

// ---- the driver ----

constexpr int kLanes = 4;   // partial sums inside one block (fixed, so still deterministic)
constexpr int kColumns = 64;  // outputs walked together by the column walk

// The column walk's hot case, float sums of 8 * G neighbouring outputs (G <= kColumns / 8) over
// rows that are `stride` apart (a bias gradient): part[j] = the sum of rows [0, rows) of column j
// in double, rows in order, exactly as SumAcc's steps add them. The G partial sums of eight
// columns stay in registers; each row is G loads, conversions and adds. The float -> double
// conversions bound it: AVX-512's one-instruction form takes 27 us for a [1024, 384] float
// column sum on one Zen 4 core, where GCC's own vectorisation of the same loop (split in
// halves and re-joined) took 40 and the loop over an array of sums (kept on the stack) 90.
typedef float Floats8 __attribute__((vector_size(32)));
typedef double Doubles8 __attribute__((vector_size(64)));

template <int G>
RV_ALWAYS_INLINE void column_sums_g(const float* p, int64_t stride, int64_t rows, double* part) {
  Doubles8 acc[G];
#pragma GCC unroll 8
  for (int g = 0; g < G; ++g) acc[g] = Doubles8{};
  for (int64_t r = 0; r < rows; ++r) {
    const float* q = p + r * stride;
#pragma GCC unroll 8
    for (int g = 0; g < G; ++g) {
      Floats8 x;
      std::memcpy(&x, q + 8 * g, sizeof(x));
      acc[g] += __builtin_convertvector(x, Doubles8);
    }
  }
  std::memcpy(part, acc, sizeof(acc));
}

template <int G>
__attribute__((target("avx512f"))) RV_ALWAYS_INLINE void column_sums_g512(
    const float* p, int64_t stride, int64_t rows, double* part) {
  __m512d acc[G];
#pragma GCC unroll 8
  for (int g = 0; g < G; ++g) acc[g] = _mm512_setzero_pd();
  for (int64_t r = 0; r < rows; ++r) {
    const float* q = p + r * stride;
#pragma GCC unroll 8
    for (int g = 0; g < G; ++g)
      acc[g] = _mm512_add_pd(acc[g], _mm512_cvtps_pd(_mm256_loadu_ps(q + 8 * g)));
  }
#pragma GCC unroll 8
  for (int g = 0; g < G; ++g) _mm512_storeu_pd(part + 8 * g, acc[g]);
}

// AVX2 has 16 vector registers: G eight-column groups are 2 G accumulators of four doubles, so
// a pass walks at most four groups (the 16 accumulators of eight groups spilled to the stack,
// which made the generic loop 4-5x slower than its conversions allow on Zen 3).
template <int G>
__attribute__((target("avx2"))) RV_ALWAYS_INLINE void column_sums_g256(
    const float* p, int64_t stride, int64_t rows, double* part) {
  __m256d lo[G], hi[G];
#pragma GCC unroll 4
  for (int g = 0; g < G; ++g) lo[g] = hi[g] = _mm256_setzero_pd();
  for (int64_t r = 0; r < rows; ++r) {
    const float* q = p + r * stride;
#pragma GCC unroll 4
    for (int g = 0; g < G; ++g) {
      lo[g] = _mm256_add_pd(lo[g], _mm256_cvtps_pd(_mm_loadu_ps(q + 8 * g)));
      hi[g] = _mm256_add_pd(hi[g], _mm256_cvtps_pd(_mm_loadu_ps(q + 8 * g + 4)));
    }
  }
#pragma GCC unroll 4
  for (int g = 0; g < G; ++g) {
    _mm256_storeu_pd(part + 8 * g, lo[g]);
    _mm256_storeu_pd(part + 8 * g + 4, hi[g]);
  }
}

__attribute__((target("avx2"), noinline)) void column_sums_avx2(
    const float* p, int64_t stride, int64_t rows, int groups, double* part) {
  for (int g0 = 0; g0 < groups; g0 += 4) {
    const float* q = p + 8 * g0;
    double* out = part + 8 * g0;
    switch (std::min(4, groups - g0)) {
      case 1: column_sums_g256<1>(q, stride, rows, out); break;
      case 2: column_sums_g256<2>(q, stride, rows, out); break;
      case 3: column_sums_g256<3>(q, stride, rows, out); break;
      default: column_sums_g256<4>(q, stride, rows, out); break;
    }
  }
}

#define RV_COLUMN_SUMS_SWITCH(fn)                 \
  switch (groups) {                               \
    case 1: return fn<1>(p, stride, rows, part);  \
    case 2: return fn<2>(p, stride, rows, part);  \
    case 3: return fn<3>(p, stride, rows, part);  \
    case 4: return fn<4>(p, stride, rows, part);  \
    case 5: return fn<5>(p, stride, rows, part);  \
    case 6: return fn<6>(p, stride, rows, part);  \
    case 7: return fn<7>(p, stride, rows, part);  \
    default: return fn<8>(p, stride, rows, part); \
  }

__attribute__((target("avx512f"), noinline)) void column_sums_avx512(
    const float* p, int64_t stride, int64_t rows, int groups, double* part) {
  RV_COLUMN_SUMS_SWITCH(column_sums_g512)
}

RV_MULTIVERSION void column_sums_any(const float* p, int64_t stride, int64_t rows, int groups,
                                     double* part) {
  RV_COLUMN_SUMS_SWITCH(column_sums_g)
}
#undef RV_COLUMN_SUMS_SWITCH

void column_sums_f(const float* p, int64_t stride, int64_t rows, int groups, double* part) {
  static const int level = cpu_uses_avx512() ? 2 : cpu_uses_avx2() ? 1 : 0;
  if (level == 2) column_sums_avx512(p, stride, rows, groups, part);
  else if (level == 1) column_sums_avx2(p, stride, rows, groups, part);
  else column_sums_any(p, stride, rows, groups, part);
}

// The row walk's hot case, the float sum of n contiguous elements in double: 32 lanes (four
// vectors of eight doubles, so that four add chains run at once) combined in a fixed order,
// then the tail in order. A chain of four scalar lanes ran one element a cycle.
constexpr int kRowVecs = 4;

RV_ALWAYS_INLINE double combine_row_lanes(const double* lanes, const float* p, int64_t i,
                                          int64_t n) {
  double s = 0;
  for (int j = 0; j < 8 * kRowVecs; ++j) s += lanes[j];
  for (; i < n; ++i) s += double(p[i]);
  return s;
}

__attribute__((target("avx512f"), noinline)) double row_sum_avx512(const float* p, int64_t n) {
  __m512d acc[kRowVecs];
  for (int g = 0; g < kRowVecs; ++g) acc[g] = _mm512_setzero_pd();
  int64_t i = 0;
  for (; i + 8 * kRowVecs <= n; i += 8 * kRowVecs)
#pragma GCC unroll 4
    for (int g = 0; g < kRowVecs; ++g)
      acc[g] = _mm512_add_pd(acc[g], _mm512_cvtps_pd(_mm256_loadu_ps(p + i + 8 * g)));
  double lanes[8 * kRowVecs];
  for (int g = 0; g < kRowVecs; ++g) _mm512_storeu_pd(lanes + 8 * g, acc[g]);
  return combine_row_lanes(lanes, p, i, n);
}

RV_MULTIVERSION double row_sum_any(const float* p, int64_t n) {
  Doubles8 acc[kRowVecs];
  for (int g = 0; g < kRowVecs; ++g) acc[g] = Doubles8{};
  int64_t i = 0;
  for (; i + 8 * kRowVecs <= n; i += 8 * kRowVecs)
#pragma GCC unroll 4
    for (int g = 0; g < kRowVecs; ++g) {
      Floats8 x;
      std::memcpy(&x, p + i + 8 * g, sizeof(x));
      acc[g] += __builtin_convertvector(x, Doubles8);
    }
  double lanes[8 * kRowVecs];
  std::memcpy(lanes, acc, sizeof(lanes));
  return combine_row_lanes(lanes, p, i, n);
}

double row_sum_f(const float* p, int64_t n) {
  static const bool avx512 = cpu_uses_avx512();
  return avx512 ? row_sum_avx512(p, n) : row_sum_any(p, n);
}

template <typename T, typename Out, typename Op>
void run_reduce(const ReduceSpec& s, const Op& op) {
  using acc_t = typename Op::acc_t;
  const T* in = reinterpret_cast<const T*>(s.in);
  Out* out = reinterpret_cast<Out*>(s.out);
  const int64_t inner = s.inner_numel;
  const int64_t nblocks = inner > 0 ? (inner + kReduceBlock - 1) / kReduceBlock : 0;
  const bool contiguous_inner = s.ninner == 1 && s.inner_strides[0] == 1;

  // One block of one output, left to right (with fixed lanes for sums over contiguous data).
  auto block = [&](int64_t base, int64_t b, int64_t e) -> acc_t {
    if constexpr (std::is_same_v<Op, SumAcc<float>>) {
      if (contiguous_inner) return row_sum_f(in + base + b, e - b);
    }
    if constexpr (Op::kLanes) {
      if (contiguous_inner) {
        const T* p = in + base;
        acc_t lane[kLanes];
        for (int l = 0; l < kLanes; ++l) lane[l] = op.init();
        int64_t i = b;
        for (; i + kLanes <= e; i += kLanes)
          for (int l = 0; l < kLanes; ++l) op.step(lane[l], p[i + l], i + l);
        for (; i < e; ++i) op.step(lane[0], p[i], i);
        for (int l = 1; l < kLanes; ++l) op.combine(lane[0], lane[l]);
        return lane[0];
      }
    }
    acc_t a = op.init();
    for_inner(s, b, e, [&](int64_t off, int64_t idx) { op.step(a, in[base + off], idx); });
    return a;
  };
  auto emit = [&](int64_t o, const acc_t& a) {
    if (out) out[o] = op.template value<Out>(a);
    if constexpr (Op::kIndex) {
      if (s.indices) s.indices[o] = a.i < 0 ? 0 : a.i;
    }
  };
  auto reduce_one = [&](int64_t o) {
    const int64_t base = outer_offset(s, o);
    acc_t total = op.init();
    for (int64_t k = 0; k < nblocks; ++k)
      op.combine(total, block(base, k * kReduceBlock, std::min(inner, (k + 1) * kReduceBlock)));
    emit(o, total);
  };

  // Column walk: the last kept dim is contiguous in the input and the reduced dims are not, so
  // neighbouring outputs read neighbouring memory; walk kColumns of them together.
  const bool columns = s.nouter > 0 && s.outer_strides[s.nouter - 1] == 1 && s.ninner > 0 &&
                       s.inner_strides[s.ninner - 1] != 1 && inner > 0;
  if (columns) {
    const int64_t last = s.outer_sizes[s.nouter - 1];
    const int64_t per_row = (last + kColumns - 1) / kColumns;
    const int64_t nchunks = (s.outer_numel / last) * per_row;
    const int64_t grain = std::max<int64_t>(1, kGrainSize / (inner * kColumns));
    parallel_for(0, nchunks, grain, [&](int64_t cb, int64_t ce) {
      acc_t total[kColumns], part[kColumns];
      for (int64_t c = cb; c < ce; ++c) {
        const int64_t o0 = (c / per_row) * last + (c % per_row) * kColumns;
        const int w = int(std::min<int64_t>(kColumns, last - (c % per_row) * kColumns));
        const int64_t base = outer_offset(s, o0);
        for (int j = 0; j < w; ++j) total[j] = op.init();
        for (int64_t k = 0; k < nblocks; ++k) {
          if constexpr (std::is_same_v<Op, SumAcc<float>>) {
            if (s.ninner == 1 && w % 8 == 0) {
              const int64_t b = k * kReduceBlock, e = std::min(inner, b + kReduceBlock);
              const int64_t stride = s.inner_strides[0];
              column_sums_f(in + base + b * stride, stride, e - b, w / 8, part);
              for (int j = 0; j < w; ++j) op.combine(total[j], part[j]);
              continue;
            }
          }
          for (int j = 0; j < w; ++j) part[j] = op.init();
          for_inner(s, k * kReduceBlock, std::min(inner, (k + 1) * kReduceBlock),
                    [&](int64_t off, int64_t idx) {
                      const T* p = in + base + off;
                      for (int j = 0; j < w; ++j) op.step(part[j], p[j], idx);
                    });
          for (int j = 0; j < w; ++j) op.combine(total[j], part[j]);
        }
        for (int j = 0; j < w; ++j) emit(o0 + j, total[j]);
      }
    });
    return;
  }

  if (nblocks <= 1 || s.outer_numel >= 4 * int64_t(get_num_threads())) {
    const int64_t grain = std::max<int64_t>(1, kGrainSize / std::max<int64_t>(inner, 1));
    parallel_for(0, s.outer_numel, grain, [&](int64_t ob, int64_t oe) {
      for (int64_t o = ob; o < oe; ++o) reduce_one(o);
    });
    return;
  }
  // Few outputs, long rows: the blocks of each output in parallel, combined in order.
  std::unique_ptr<acc_t[]> partial(new acc_t[static_cast<size_t>(nblocks)]);  // not vector<bool>
  for (int64_t o = 0; o < s.outer_numel; ++o) {
    const int64_t base = outer_offset(s, o);
    parallel_for(0, nblocks, 1, [&](int64_t bb, int64_t be) {
      for (int64_t k = bb; k < be; ++k)
        partial[size_t(k)] = block(base, k * kReduceBlock, std::min(inner, (k + 1) * kReduceBlock));
    });
    acc_t total = op.init();
    for (int64_t k = 0; k < nblocks; ++k) op.combine(total, partial[size_t(k)]);
    emit(o, total);
  }
}

// Output types: the op layer picks out_dtype, and only these pairs occur: the input's own
// type (every op), int64 for integer sums and products, bool or uint8 for all/any. Only
// those are instantiated.
template <typename T, typename Op>
void run_with_out(const ReduceSpec& s, const Op& op, const char* name) {
  constexpr bool kLogic = std::is_same_v<Op, LogicAcc<T, true>> ||
                          std::is_same_v<Op, LogicAcc<T, false>>;
  if constexpr (kLogic) {
    if (s.out_dtype == DType::Bool) return run_reduce<T, bool>(s, op);
    if (s.out_dtype == DType::UInt8) return run_reduce<T, uint8_t>(s, op);
  } else {
    if (s.out_dtype == CppToDType<T>::value) return run_reduce<T, T>(s, op);
    if constexpr (!std::is_floating_point_v<T>) {
      if (s.out_dtype == DType::Int64) return run_reduce<T, int64_t>(s, op);
    }
  }
  throw_unsupported_dtype(name, s.out_dtype);
}

template <typename T>
void run_norm(const ReduceSpec& s) {
  const double p = s.p;
  if (p == 0) return run_with_out<T>(s, NormAcc<T, 0>{p}, "norm");
  if (p == 1) return run_with_out<T>(s, NormAcc<T, 1>{p}, "norm");
  if (p == 2) return run_with_out<T>(s, NormAcc<T, 2>{p}, "norm");
  if (std::isinf(p) && p > 0) return run_with_out<T>(s, NormAcc<T, 3>{p}, "norm");
  if (std::isinf(p)) return run_with_out<T>(s, NormAcc<T, 4>{p}, "norm");
  return run_with_out<T>(s, NormAcc<T, 5>{p}, "norm");
}

void reduce_cpu(ReduceOp op, const ReduceSpec& s) {
  switch (op) {
    case ReduceOp::Sum:
      return RV_DISPATCH_COMPUTE(s.in_dtype, "sum", [&] { run_with_out<scalar_t>(s, SumAcc<scalar_t>{}, "sum"); });
    case ReduceOp::Prod:
      return RV_DISPATCH_COMPUTE(s.in_dtype, "prod", [&] { run_with_out<scalar_t>(s, ProdAcc<scalar_t>{}, "prod"); });
    case ReduceOp::Max:
      return RV_DISPATCH_COMPUTE(s.in_dtype, "max", [&] {
        if (s.indices) run_with_out<scalar_t>(s, ExtremeAcc<scalar_t, true>{}, "max");
        else run_with_out<scalar_t>(s, ValueExtremeAcc<scalar_t, true>{}, "max");
      });
    case ReduceOp::Min:
      return RV_DISPATCH_COMPUTE(s.in_dtype, "min", [&] {
        if (s.indices) run_with_out<scalar_t>(s, ExtremeAcc<scalar_t, false>{}, "min");
        else run_with_out<scalar_t>(s, ValueExtremeAcc<scalar_t, false>{}, "min");
      });
    case ReduceOp::All:
      return RV_DISPATCH_COMPUTE(s.in_dtype, "all", [&] { run_with_out<scalar_t>(s, LogicAcc<scalar_t, true>{}, "all"); });
    case ReduceOp::Any:
      return RV_DISPATCH_COMPUTE(s.in_dtype, "any", [&] { run_with_out<scalar_t>(s, LogicAcc<scalar_t, false>{}, "any"); });
    case ReduceOp::Norm:
      return RV_DISPATCH_FLOAT(s.in_dtype, "norm", [&] { run_norm<scalar_t>(s); });
  }
}

}  // namespace

void register_scan_cpu();  // kernels/cpu/scan.cpp

void register_reduce_cpu() {
  reduce_kernel.set(DeviceType::CPU, &reduce_cpu);
  register_scan_cpu();
}

}  // namespace ranvier::cpu
