// CPU upsample kernels (see ops/upsample.h). Forward: every output element is the weighted sum
// of its k0*k1*k2 taps; rows of the output are split across threads. Backward: the transposed
// scatter-add, parallel over (N*C) planes only, so that each input-gradient element is summed by
// one thread in a fixed order (bitwise identical for any thread count).
#include <algorithm>
#include <cstring>

#include "core/parallel.h"
#include "ops/upsample.h"

namespace ranvier::cpu {

namespace {

template <typename T>
void forward(const UpsampleSpec& s) {
  const T* x = static_cast<const T*>(s.src);
  T* y = static_cast<T*>(s.dst);
  const int64_t in_plane = s.in[0] * s.in[1] * s.in[2];
  const int64_t rows = s.planes * s.out[0] * s.out[1];
  const int64_t taps = s.k[0] * s.k[1] * s.k[2];
  const int64_t grain = std::max<int64_t>(1, kGrainSize / std::max<int64_t>(1, s.out[2] * taps));
  parallel_for(0, rows, grain, [&](int64_t rb, int64_t re) {
    for (int64_t r = rb; r < re; ++r) {
      const int64_t o1 = r % s.out[1], o0 = (r / s.out[1]) % s.out[0];
      const int64_t p = r / (s.out[1] * s.out[0]);
      const T* xp = x + p * in_plane;
      T* yr = y + r * s.out[2];
      for (int64_t o2 = 0; o2 < s.out[2]; ++o2) {
        double acc = 0;
        for (int64_t a = 0; a < s.k[0]; ++a) {
          const double wa = s.w[0][o0 * s.k[0] + a];
          const T* xa = xp + s.idx[0][o0 * s.k[0] + a] * s.in[1] * s.in[2];
          for (int64_t b = 0; b < s.k[1]; ++b) {
            const double wb = wa * s.w[1][o1 * s.k[1] + b];
            const T* xb = xa + s.idx[1][o1 * s.k[1] + b] * s.in[2];
            for (int64_t c = 0; c < s.k[2]; ++c)
              acc += wb * s.w[2][o2 * s.k[2] + c] * double(xb[s.idx[2][o2 * s.k[2] + c]]);
          }
        }
        yr[o2] = T(acc);
      }
    }
  });
}

template <typename T>
void backward(const UpsampleSpec& s) {
  const T* g = static_cast<const T*>(s.src);
  T* gx = static_cast<T*>(s.dst);
  const int64_t in_plane = s.in[0] * s.in[1] * s.in[2];
  const int64_t out_plane = s.out[0] * s.out[1] * s.out[2];
  const int64_t taps = s.k[0] * s.k[1] * s.k[2];
  const int64_t grain = std::max<int64_t>(1, kGrainSize / std::max<int64_t>(1, out_plane * taps));
  parallel_for(0, s.planes, grain, [&](int64_t pb, int64_t pe) {
    for (int64_t p = pb; p < pe; ++p) {
      T* gp = gx + p * in_plane;
      std::fill(gp, gp + in_plane, T(0));
      const T* go = g + p * out_plane;
      for (int64_t o0 = 0; o0 < s.out[0]; ++o0)
        for (int64_t o1 = 0; o1 < s.out[1]; ++o1)
          for (int64_t o2 = 0; o2 < s.out[2]; ++o2) {
            const double gv = double(go[(o0 * s.out[1] + o1) * s.out[2] + o2]);
            for (int64_t a = 0; a < s.k[0]; ++a) {
              const double wa = gv * s.w[0][o0 * s.k[0] + a];
              T* ga = gp + s.idx[0][o0 * s.k[0] + a] * s.in[1] * s.in[2];
              for (int64_t b = 0; b < s.k[1]; ++b) {
                const double wb = wa * s.w[1][o1 * s.k[1] + b];
                T* gb = ga + s.idx[1][o1 * s.k[1] + b] * s.in[2];
                for (int64_t c = 0; c < s.k[2]; ++c)
                  gb[s.idx[2][o2 * s.k[2] + c]] += T(wb * s.w[2][o2 * s.k[2] + c]);
              }
            }
          }
    }
  });
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
