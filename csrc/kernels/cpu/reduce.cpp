// CPU reduction kernels. Each output element is reduced serially in a fixed order; long inner
// ranges are split into fixed kReduceBlock blocks combined in order (Note [Deterministic
// reductions]), so results do not depend on the thread count.
#include "ops/reduce.h"

#include <cmath>
#include <limits>
#include <vector>

#include "core/parallel.h"

namespace ranvier::cpu {

namespace {

template <typename T> struct AccOf { using type = T; };
template <> struct AccOf<float> { using type = double; };
template <> struct AccOf<int32_t> { using type = int64_t; };
template <> struct AccOf<uint8_t> { using type = int64_t; };
template <> struct AccOf<bool> { using type = int64_t; };

// Offset (in elements) of the input element at outer index o.
int64_t outer_offset(const ReduceSpec& s, int64_t o) {
  int64_t off = 0;
  for (int d = s.nouter - 1; d >= 0; --d) {
    off += (o % s.outer_sizes[d]) * s.outer_strides[d];
    o /= s.outer_sizes[d];
  }
  return off;
}

// Calls f(offset) for inner elements [b, e) of one output element, in order.
template <typename F>
void for_inner(const ReduceSpec& s, int64_t b, int64_t e, const F& f) {
  if (s.ninner == 0) {
    if (b < e) f(int64_t(0));
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
    for (int64_t k = 0; k < n; ++k) f(base + k * last_stride);
    i += n;
    coord[nd - 1] += n;
    for (int d = nd - 1; d > 0 && coord[d] >= s.inner_sizes[d]; --d) {
      coord[d] = 0;
      coord[d - 1]++;
    }
  }
}

template <typename T, typename Out>
void sum_kernel(const ReduceSpec& s) {
  using Acc = typename AccOf<T>::type;
  const T* in = reinterpret_cast<const T*>(s.in);
  Out* out = reinterpret_cast<Out*>(s.out);
  const int64_t inner = s.inner_numel;
  auto reduce_range = [&](int64_t base, int64_t b, int64_t e) {
    Acc acc = Acc(0);
    for_inner(s, b, e, [&](int64_t off) { acc += Acc(in[base + off]); });
    return acc;
  };
  if (s.outer_numel >= get_num_threads() || inner <= kReduceBlock) {
    int64_t grain = inner > 0 ? std::max<int64_t>(1, kGrainSize / inner) : kGrainSize;
    parallel_for(0, s.outer_numel, grain, [&](int64_t ob, int64_t oe) {
      for (int64_t o = ob; o < oe; ++o) {
        int64_t base = outer_offset(s, o);
        Acc total = Acc(0);
        for (int64_t b = 0; b < inner; b += kReduceBlock)
          total += reduce_range(base, b, std::min(inner, b + kReduceBlock));
        out[o] = Out(total);
      }
    });
    return;
  }
  // Few outputs, long rows: blocks in parallel, combined in order.
  for (int64_t o = 0; o < s.outer_numel; ++o) {
    int64_t base = outer_offset(s, o);
    int64_t nblocks = (inner + kReduceBlock - 1) / kReduceBlock;
    std::vector<Acc> partial(nblocks);
    parallel_for(0, nblocks, 1, [&](int64_t bb, int64_t be) {
      for (int64_t k = bb; k < be; ++k)
        partial[k] = reduce_range(base, k * kReduceBlock, std::min(inner, (k + 1) * kReduceBlock));
    });
    Acc total = Acc(0);
    for (Acc p : partial) total += p;
    out[o] = Out(total);
  }
}

void reduce_cpu(ReduceOp op, const ReduceSpec& s) {
  switch (op) {
    case ReduceOp::Sum:
      RV_DISPATCH_COMPUTE(s.in_dtype, "sum", [&] {
        if (s.out_dtype == DType::Int64) sum_kernel<scalar_t, int64_t>(s);
        else if (s.out_dtype == DType::Float64) sum_kernel<scalar_t, double>(s);
        else sum_kernel<scalar_t, float>(s);
      });
      return;
    default:
      throw_error(ErrorKind::NotImplemented, "reduction has no CPU kernel");
  }
}

}  // namespace

void register_reduce_cpu() { reduce_kernel.set(DeviceType::CPU, &reduce_cpu); }

}  // namespace ranvier::cpu
