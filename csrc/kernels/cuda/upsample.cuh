// The CUDA upsample kernels' per-element math (upsample.cu), host-callable for the host-side
// test. UpsampleSpec's tap tables (per output index along each dim: k source indices and
// weights) go to the device as they are, plus, for the backward, their inverse: per input
// index along each dim, the (output index, tap) pairs that read it, sorted by output index
// then tap (CSR: start offsets + entries).
//   - forward: one thread per output element, the CPU kernel's sum (for each tap row a, b:
//     acc += (w_a w_b) * sum_c w_c x), in double;
//   - backward, as a gather per input element (no atomics): the element adds the same terms
//     T(w_a w_b g w_c) the CPU's scatter adds to it, in the CPU's order (output o0, o1, taps
//     a, b, output o2, tap c).
// Every product and sum goes through rn_mul / rn_add (no fused multiply-adds), so both are
// bitwise the CPU kernel's.
#pragma once
#include <cstdint>
#include <vector>

#include "cuda/rounded.cuh"
#include "kernels/common/macros.h"
#include "ops/upsample.h"

namespace ranvier::cuda::upsample_math {


// Inverse taps of one dim: for input index i, entries [start[i], start[i + 1]) of (out, tap).
struct Inverse {
  const int64_t* start = nullptr;  // [in + 1]
  const int64_t* out = nullptr;    // output index
  const int64_t* tap = nullptr;    // tap number within that output's k taps
};

template <typename T>
RV_HOST_DEVICE void forward_element(const UpsampleSpec& s, int64_t e) {
  const int64_t o2 = e % s.out[2], o1 = (e / s.out[2]) % s.out[1];
  const int64_t o0 = (e / (s.out[2] * s.out[1])) % s.out[0];
  const int64_t p = e / (s.out[2] * s.out[1] * s.out[0]);
  const T* xp = static_cast<const T*>(s.src) + p * s.in[0] * s.in[1] * s.in[2];
  double acc = 0.0;
  for (int64_t a = 0; a < s.k[0]; ++a) {
    const double wa = s.w[0][o0 * s.k[0] + a];
    const T* xa = xp + s.idx[0][o0 * s.k[0] + a] * s.in[1] * s.in[2];
    for (int64_t b = 0; b < s.k[1]; ++b) {
      const double wb = rn_mul(wa, s.w[1][o1 * s.k[1] + b]);
      const T* xb = xa + s.idx[1][o1 * s.k[1] + b] * s.in[2];
      double v = 0.0;
      for (int64_t c = 0; c < s.k[2]; ++c)
        v = rn_add(v, rn_mul(s.w[2][o2 * s.k[2] + c], double(xb[s.idx[2][o2 * s.k[2] + c]])));
      acc = rn_add(acc, rn_mul(wb, v));
    }
  }
  static_cast<T*>(s.dst)[e] = T(acc);
}

// Input-gradient element e = (p, i0, i1, i2).
template <typename T>
RV_HOST_DEVICE void backward_element(const UpsampleSpec& s, const Inverse* inv, int64_t e) {
  const int64_t i2 = e % s.in[2], i1 = (e / s.in[2]) % s.in[1];
  const int64_t i0 = (e / (s.in[2] * s.in[1])) % s.in[0];
  const int64_t p = e / (s.in[2] * s.in[1] * s.in[0]);
  const T* g = static_cast<const T*>(s.src) + p * s.out[0] * s.out[1] * s.out[2];
  T acc = T(0);
  // groups of entries with one output index: [g, g_end)
  for (int64_t g0 = inv[0].start[i0]; g0 < inv[0].start[i0 + 1];) {
    const int64_t o0 = inv[0].out[g0];
    int64_t e0 = g0;
    while (e0 < inv[0].start[i0 + 1] && inv[0].out[e0] == o0) ++e0;
    for (int64_t g1 = inv[1].start[i1]; g1 < inv[1].start[i1 + 1];) {
      const int64_t o1 = inv[1].out[g1];
      int64_t e1 = g1;
      while (e1 < inv[1].start[i1 + 1] && inv[1].out[e1] == o1) ++e1;
      const T* gr = g + (o0 * s.out[1] + o1) * s.out[2];
      for (int64_t ea = g0; ea < e0; ++ea) {
        const double wa = s.w[0][o0 * s.k[0] + inv[0].tap[ea]];
        for (int64_t eb = g1; eb < e1; ++eb) {
          const double wb = rn_mul(wa, s.w[1][o1 * s.k[1] + inv[1].tap[eb]]);
          for (int64_t ec = inv[2].start[i2]; ec < inv[2].start[i2 + 1]; ++ec) {
            const int64_t o2 = inv[2].out[ec];
            const double gv = rn_mul(wb, double(gr[o2]));
            acc = rn_add(acc, T(rn_mul(gv, s.w[2][o2 * s.k[2] + inv[2].tap[ec]])));
          }
        }
      }
      g1 = e1;
    }
    g0 = e0;
  }
  static_cast<T*>(s.dst)[e] = acc;
}

// Host: the inverse of one dim's taps as flat arrays [start (in + 1) | out (n) | tap (n)].
inline std::vector<int64_t> inverse_table(const int64_t* idx, int64_t out, int64_t k, int64_t in) {
  const int64_t n = out * k;
  std::vector<int64_t> t(size_t(in + 1 + 2 * n), 0);
  int64_t* start = t.data();
  int64_t* o = start + in + 1;
  int64_t* tp = o + n;
  for (int64_t j = 0; j < n; ++j) start[idx[j] + 1]++;
  for (int64_t i = 0; i < in; ++i) start[i + 1] += start[i];
  std::vector<int64_t> fill(start, start + in);
  for (int64_t j = 0; j < n; ++j) {  // j = out * k + tap: ascending output, then tap
    const int64_t pos = fill[size_t(idx[j])]++;
    o[pos] = j / k;
    tp[pos] = j % k;
  }
  return t;
}

inline Inverse inverse_view(const int64_t* t, int64_t in, int64_t n) {
  return Inverse{t, t + in + 1, t + in + 1 + n};
}

}  // namespace ranvier::cuda::upsample_math
