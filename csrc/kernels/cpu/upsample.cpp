// CPU upsample kernels (see ops/upsample.h). Forward: every output element is the weighted sum
// of its k0*k1*k2 taps, accumulated row by row (for each of the k0*k1 input rows, all outputs of
// the row); rows of the output are split across threads. Backward: the transposed
// scatter-add, parallel over (N*C) planes only, so that each input-gradient element is summed by
// one thread in a fixed order (bitwise identical for any thread count).
#include <algorithm>
#include <cstring>
#include <vector>

#include "core/parallel.h"
#include "ops/upsample.h"

namespace ranvier::cpu {

namespace {

// Weighted sum of the K taps of output index o2 in one input row x (K known at compile time for
// nearest / linear / cubic; K = 0 means "read s.k[2]").
template <int K, typename T>
inline double row_taps(const T* x, const int64_t* ix, const double* w, int64_t k) {
  const int64_t n = K > 0 ? K : k;
  double v = 0;
  for (int64_t c = 0; c < n; ++c) v += w[c] * double(x[ix[c]]);
  return v;
}

template <int K, typename T>
void forward_k(const UpsampleSpec& s) {
  const T* x = static_cast<const T*>(s.src);
  T* y = static_cast<T*>(s.dst);
  const int64_t in_plane = s.in[0] * s.in[1] * s.in[2];
  const int64_t rows = s.planes * s.out[0] * s.out[1];
  const int64_t taps = s.k[0] * s.k[1] * s.k[2];
  const int64_t k2 = s.k[2];
  const int64_t grain = std::max<int64_t>(1, kGrainSize / std::max<int64_t>(1, s.out[2] * taps));
  parallel_for(0, rows, grain, [&](int64_t rb, int64_t re) {
    std::vector<double> acc(size_t(s.out[2]));
    for (int64_t r = rb; r < re; ++r) {
      const int64_t o1 = r % s.out[1], o0 = (r / s.out[1]) % s.out[0];
      const int64_t p = r / (s.out[1] * s.out[0]);
      const T* xp = x + p * in_plane;
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int64_t a = 0; a < s.k[0]; ++a) {
        const double wa = s.w[0][o0 * s.k[0] + a];
        const T* xa = xp + s.idx[0][o0 * s.k[0] + a] * s.in[1] * s.in[2];
        for (int64_t b = 0; b < s.k[1]; ++b) {
          const double wb = wa * s.w[1][o1 * s.k[1] + b];
          const T* xb = xa + s.idx[1][o1 * s.k[1] + b] * s.in[2];
          for (int64_t o2 = 0; o2 < s.out[2]; ++o2)
            acc[size_t(o2)] += wb * row_taps<K>(xb, s.idx[2] + o2 * k2, s.w[2] + o2 * k2, k2);
        }
      }
      T* yr = y + r * s.out[2];
      for (int64_t o2 = 0; o2 < s.out[2]; ++o2) yr[o2] = T(acc[size_t(o2)]);
    }
  });
}

template <int K, typename T>
void backward_k(const UpsampleSpec& s) {
  const T* g = static_cast<const T*>(s.src);
  T* gx = static_cast<T*>(s.dst);
  const int64_t in_plane = s.in[0] * s.in[1] * s.in[2];
  const int64_t out_plane = s.out[0] * s.out[1] * s.out[2];
  const int64_t taps = s.k[0] * s.k[1] * s.k[2];
  const int64_t k2 = s.k[2];
  const int64_t n2 = K > 0 ? K : k2;
  const int64_t grain = std::max<int64_t>(1, kGrainSize / std::max<int64_t>(1, out_plane * taps));
  parallel_for(0, s.planes, grain, [&](int64_t pb, int64_t pe) {
    for (int64_t p = pb; p < pe; ++p) {
      T* gp = gx + p * in_plane;
      std::fill(gp, gp + in_plane, T(0));
      for (int64_t o0 = 0; o0 < s.out[0]; ++o0)
        for (int64_t o1 = 0; o1 < s.out[1]; ++o1) {
          const T* gr = g + p * out_plane + (o0 * s.out[1] + o1) * s.out[2];
          for (int64_t a = 0; a < s.k[0]; ++a) {
            const double wa = s.w[0][o0 * s.k[0] + a];
            T* ga = gp + s.idx[0][o0 * s.k[0] + a] * s.in[1] * s.in[2];
            for (int64_t b = 0; b < s.k[1]; ++b) {
              const double wb = wa * s.w[1][o1 * s.k[1] + b];
              T* gb = ga + s.idx[1][o1 * s.k[1] + b] * s.in[2];
              for (int64_t o2 = 0; o2 < s.out[2]; ++o2) {
                const double gv = wb * double(gr[o2]);
                const int64_t* ix = s.idx[2] + o2 * k2;
                const double* w = s.w[2] + o2 * k2;
                for (int64_t c = 0; c < n2; ++c) gb[ix[c]] += T(gv * w[c]);
              }
            }
          }
        }
    }
  });
}

template <typename T>
void forward(const UpsampleSpec& s) {
  switch (s.k[2]) {
    case 1: return forward_k<1, T>(s);
    case 2: return forward_k<2, T>(s);
    case 4: return forward_k<4, T>(s);
    default: return forward_k<0, T>(s);
  }
}

template <typename T>
void backward(const UpsampleSpec& s) {
  switch (s.k[2]) {
    case 1: return backward_k<1, T>(s);
    case 2: return backward_k<2, T>(s);
    case 4: return backward_k<4, T>(s);
    default: return backward_k<0, T>(s);
  }
}

void upsample_forward_cpu(const UpsampleSpec& s) {
  if (s.dtype == DType::Float64) forward<double>(s);
  else forward<float>(s);
}
void upsample_backward_cpu(const UpsampleSpec& s) {
  if (s.dtype == DType::Float64) backward<double>(s);
  else backward<float>(s);
}

}  // namespace

void register_upsample_cpu() {
  upsample_forward_kernel.set(DeviceType::CPU, &upsample_forward_cpu);
  upsample_backward_kernel.set(DeviceType::CPU, &upsample_backward_cpu);
}

}  // namespace ranvier::cpu
