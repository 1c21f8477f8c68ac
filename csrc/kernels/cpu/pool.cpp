// CPU kernel of the pooling family: the argmax of every max-pooling window, split by plane
// (one writer per output element, independent of the thread count). NaN wins (the last one),
// like PyTorch; ties keep the first maximum in row-major window order.
#include <cmath>

#include "core/parallel.h"
#include "ops/pool.h"

namespace ranvier::cpu {

namespace {

template <typename T>
void max_pool_plane(const MaxPoolSpec& s, const T* in, int64_t* idx) {
  const PoolWindows& R = *s.rows;
  const PoolWindows& C = *s.cols;
  const int64_t oh = int64_t(R.start.size()), ow = int64_t(C.start.size());
  for (int64_t i = 0; i < oh; ++i)
    for (int64_t j = 0; j < ow; ++j) {
      int64_t best = -1;
      T bv = T(0);
      for (int64_t a = 0; a < R.count[i]; ++a) {
        int64_t y = R.start[i] + a * R.step;
        if (y < 0 || y >= s.h) continue;
        for (int64_t b = 0; b < C.count[j]; ++b) {
          int64_t x = C.start[j] + b * C.step;
          if (x < 0 || x >= s.w) continue;
          T v = in[y * s.w + x];
          if (best < 0 || v > bv || std::isnan(v)) {
            best = y * s.w + x;
            bv = v;
          }
        }
      }
      idx[i * ow + j] = best < 0 ? 0 : best;
    }
}

void max_pool_indices_cpu(const MaxPoolSpec& s, const char* in, int64_t* idx) {
  RV_DISPATCH_FLOAT(s.dtype, "max_pool2d", [&] {
    const auto* x = reinterpret_cast<const scalar_t*>(in);
    const int64_t plane = s.h * s.w;
    const int64_t out_plane = int64_t(s.rows->start.size() * s.cols->start.size());
    int64_t work = out_plane * (s.rows->count.empty() ? 1 : s.rows->count[0]) *
                   (s.cols->count.empty() ? 1 : s.cols->count[0]);
    int64_t grain = work >= kGrainSize ? 1 : kGrainSize / (work > 0 ? work : 1);
    parallel_for(0, s.planes, grain, [&](int64_t b, int64_t e) {
      for (int64_t p = b; p < e; ++p) max_pool_plane(s, x + p * plane, idx + p * out_plane);
    });
  });
}

}  // namespace

void register_pool_cpu() { max_pool_indices_kernel.set(DeviceType::CPU, &max_pool_indices_cpu); }

}  // namespace ranvier::cpu
