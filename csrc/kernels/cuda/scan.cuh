// The CUDA scan kernels' per-line math (scan.cu), host-callable for the host-side test: one
// line of a cumulative sum / product (inclusive or exclusive, forward or reversed) and one line
// of the division-free cumprod gradient. Same order and the same wide accumulators as the CPU
// kernel (kernels/cpu/scan.cpp: double for floats, int64 for integers), so a line's results
// are bitwise the CPU's. rn_mul / rn_add keep nvcc from fusing a * b + c into one FMA (the
// CPU rounds the product first).
#pragma once
#include <cstdint>

#include "cuda/rounded.cuh"
#include "kernels/common/macros.h"
#include "kernels/common/reduce_spec.h"

namespace ranvier::cuda::scan_math {

template <typename T> struct WideOf { using type = int64_t; };
template <> struct WideOf<float> { using type = double; };
template <> struct WideOf<double> { using type = double; };


// Offsets of line o's first element in the input, the output and an optional third operand.
RV_HOST_DEVICE RV_INLINE void outer_offsets(const ScanSpec& s, int64_t o, int64_t& in_off,
                                            int64_t& out_off, const int64_t* extra_strides,
                                            int64_t* extra_off) {
  in_off = out_off = 0;
  if (extra_off) *extra_off = 0;
  for (int d = s.nouter - 1; d >= 0; --d) {
    int64_t c = o % s.outer_sizes[d];
    o /= s.outer_sizes[d];
    in_off += c * s.in_outer_strides[d];
    out_off += c * s.out_outer_strides[d];
    if (extra_off) *extra_off += c * extra_strides[d];
  }
}

template <typename T, typename Out>
RV_HOST_DEVICE void scan_line(const ScanSpec& s, int64_t o) {
  using Acc = typename WideOf<T>::type;
  const T* in = reinterpret_cast<const T*>(s.in);
  Out* out = reinterpret_cast<Out*>(s.out);
  const bool prod = s.op == ScanOp::Prod;
  int64_t ioff, ooff;
  outer_offsets(s, o, ioff, ooff, nullptr, nullptr);
  Acc acc = prod ? Acc(1) : Acc(0);
  for (int64_t k = 0; k < s.n; ++k) {
    const int64_t i = s.reverse ? s.n - 1 - k : k;
    const Acc x = Acc(in[ioff + i * s.in_stride]);
    if (s.exclusive) out[ooff + i * s.out_stride] = Out(acc);
    if (prod) acc *= x;
    else acc += x;
    if (!s.exclusive) out[ooff + i * s.out_stride] = Out(acc);
  }
}

// grad_k = (prod_{j<k} x_j) * S_k, S_{n-1} = g_{n-1}, S_k = g_k + x_{k+1} S_{k+1}, in double.
template <typename T>
RV_HOST_DEVICE void cumprod_grad_line(const CumprodGradSpec& g, int64_t o) {
  const ScanSpec& s = g.scan;
  const T* x = reinterpret_cast<const T*>(s.in);
  const T* gr = reinterpret_cast<const T*>(g.grad);
  T* out = reinterpret_cast<T*>(s.out);
  int64_t xoff, ooff, goff;
  outer_offsets(s, o, xoff, ooff, g.grad_outer_strides, &goff);
  double acc = 0.0;
  for (int64_t k = s.n - 1; k >= 0; --k) {
    double next_x = k + 1 < s.n ? double(x[xoff + (k + 1) * s.in_stride]) : 0.0;
    acc = rn_add(double(gr[goff + k * g.grad_stride]), rn_mul(next_x, acc));
    out[ooff + k * s.out_stride] = T(acc);
  }
  double prefix = 1.0;
  for (int64_t k = 0; k < s.n; ++k) {
    out[ooff + k * s.out_stride] = T(rn_mul(prefix, double(out[ooff + k * s.out_stride])));
    prefix = rn_mul(prefix, double(x[xoff + k * s.in_stride]));
  }
}

}  // namespace ranvier::cuda::scan_math
