// CPU scan kernels: cumulative sum / product along one dim (inclusive or exclusive, forward or
// reversed) and the division-free cumprod gradient. Each line is scanned sequentially with a
// wide accumulator (double for floats, int64 for integers); threads take whole lines, so the
// thread count never changes a result (Note [Deterministic reductions]).
#include <algorithm>
#include <type_traits>

#include "core/parallel.h"
#include "ops/reduce.h"

namespace ranvier::cpu {

namespace {

template <typename T> struct WideOf { using type = int64_t; };
template <> struct WideOf<float> { using type = double; };
template <> struct WideOf<double> { using type = double; };

void outer_offsets(const ScanSpec& s, int64_t o, int64_t& in_off, int64_t& out_off,
                   const int64_t* extra_strides = nullptr, int64_t* extra_off = nullptr) {
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

int64_t line_grain(int64_t n) { return std::max<int64_t>(1, kGrainSize / std::max<int64_t>(n, 1)); }

template <typename T, typename Out>
void scan_lines(const ScanSpec& s) {
  using Acc = typename WideOf<T>::type;
  const T* in = reinterpret_cast<const T*>(s.in);
  Out* out = reinterpret_cast<Out*>(s.out);
  const bool prod = s.op == ScanOp::Prod;
  // Column walk: when neighbouring lines are neighbours in memory (the last other dim has
  // stride 1 on both sides) and the scan dim is strided, scan kColumns lines together. Each
  // line still combines its elements in the same order.
  constexpr int kColumns = 32;
  const int nd = s.nouter;
  if (nd > 0 && s.in_outer_strides[nd - 1] == 1 && s.out_outer_strides[nd - 1] == 1 &&
      s.in_stride != 1) {
    const int64_t last = s.outer_sizes[nd - 1];
    const int64_t per_row = (last + kColumns - 1) / kColumns;
    const int64_t nchunks = (s.outer_numel / last) * per_row;
    parallel_for(0, nchunks, line_grain(s.n * kColumns), [&](int64_t cb, int64_t ce) {
      Acc acc[kColumns];
      for (int64_t c = cb; c < ce; ++c) {
        const int64_t o0 = (c / per_row) * last + (c % per_row) * kColumns;
        const int w = int(std::min<int64_t>(kColumns, last - (c % per_row) * kColumns));
        int64_t ioff, ooff;
        outer_offsets(s, o0, ioff, ooff);
        for (int j = 0; j < w; ++j) acc[j] = prod ? Acc(1) : Acc(0);
        for (int64_t k = 0; k < s.n; ++k) {
          const int64_t i = s.reverse ? s.n - 1 - k : k;
          const T* src = in + ioff + i * s.in_stride;
          Out* dst = out + ooff + i * s.out_stride;
          for (int j = 0; j < w; ++j) {
            if (s.exclusive) dst[j] = Out(acc[j]);
            if (prod) acc[j] *= Acc(src[j]);
            else acc[j] += Acc(src[j]);
            if (!s.exclusive) dst[j] = Out(acc[j]);
          }
        }
      }
    });
    return;
  }
  parallel_for(0, s.outer_numel, line_grain(s.n), [&](int64_t ob, int64_t oe) {
    for (int64_t o = ob; o < oe; ++o) {
      int64_t ioff, ooff;
      outer_offsets(s, o, ioff, ooff);
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
  });
}

void scan_cpu(const ScanSpec& s) {
  RV_DISPATCH_COMPUTE(s.in_dtype, s.op == ScanOp::Sum ? "cumsum" : "cumprod", [&] {
    switch (s.out_dtype) {
      case DType::Float32: return scan_lines<scalar_t, float>(s);
      case DType::Float64: return scan_lines<scalar_t, double>(s);
      case DType::Int64: return scan_lines<scalar_t, int64_t>(s);
      case DType::Int32: return scan_lines<scalar_t, int32_t>(s);
      case DType::UInt8: return scan_lines<scalar_t, uint8_t>(s);
      default: throw_unsupported_dtype("cumsum", s.out_dtype);
    }
  });
}

template <typename T>
void cumprod_grad_lines(const CumprodGradSpec& g) {
  const ScanSpec& s = g.scan;
  const T* x = reinterpret_cast<const T*>(s.in);
  const T* gr = reinterpret_cast<const T*>(g.grad);
  T* out = reinterpret_cast<T*>(s.out);
  parallel_for(0, s.outer_numel, line_grain(s.n), [&](int64_t ob, int64_t oe) {
    for (int64_t o = ob; o < oe; ++o) {
      int64_t xoff, ooff, goff;
      outer_offsets(s, o, xoff, ooff, g.grad_outer_strides, &goff);
      // S_k from the right, stored in out; then multiply by the exclusive prefix product.
      double acc = 0.0;
      for (int64_t k = s.n - 1; k >= 0; --k) {
        double next_x = k + 1 < s.n ? double(x[xoff + (k + 1) * s.in_stride]) : 0.0;
        acc = double(gr[goff + k * g.grad_stride]) + next_x * acc;
        out[ooff + k * s.out_stride] = T(acc);
      }
      double prefix = 1.0;
      for (int64_t k = 0; k < s.n; ++k) {
        out[ooff + k * s.out_stride] = T(prefix * double(out[ooff + k * s.out_stride]));
        prefix *= double(x[xoff + k * s.in_stride]);
      }
    }
  });
}

void cumprod_grad_cpu(const CumprodGradSpec& g) {
  RV_DISPATCH_FLOAT(g.scan.in_dtype, "cumprod_backward", [&] { cumprod_grad_lines<scalar_t>(g); });
}

}  // namespace

void register_scan_cpu() {
  scan_kernel.set(DeviceType::CPU, &scan_cpu);
  cumprod_grad_kernel.set(DeviceType::CPU, &cumprod_grad_cpu);
}

}  // namespace ranvier::cpu
