// CPU kernels of the GradScaler ops (ops/amp.h). Unscale: one pass per gradient that multiplies
// by inv_scale (in the element's compute type: float for float16/bfloat16/float32, double for
// float64) and notes any inf/NaN; chunks over threads only OR into a per-chunk flag, so the
// result does not depend on the thread count.
#include <atomic>
#include <cmath>

#include "core/dtype.h"
#include "core/parallel.h"
#include "ops/amp.h"

namespace ranvier {
namespace cpu {

namespace {

constexpr int64_t kAmpGrain = 32768;

template <typename T, typename C>
bool unscale_range(T* p, int64_t b, int64_t e, C inv) {
  bool bad = false;
  for (int64_t i = b; i < e; ++i) {
    C v = static_cast<C>(p[i]);
    bad |= !std::isfinite(v);
    p[i] = static_cast<T>(v * inv);
  }
  return bad;
}

void amp_unscale_cpu(void* data, int64_t n, DType dtype, float* found_inf,
                     const float* inv_scale) {
  const float inv = *inv_scale;
  std::atomic<bool> bad{false};
  auto run = [&](auto* p, auto inv_c) {
    parallel_for(0, n, kAmpGrain, [&](int64_t b, int64_t e) {
      if (unscale_range(p, b, e, inv_c)) bad.store(true, std::memory_order_relaxed);
    });
  };
  switch (dtype) {
    case DType::Float32: run(static_cast<float*>(data), inv); break;
    case DType::Float64: run(static_cast<double*>(data), double(inv)); break;
    case DType::Float16: run(static_cast<Half*>(data), inv); break;
    case DType::BFloat16: run(static_cast<BFloat16*>(data), inv); break;
    default: throw_unsupported_dtype("_amp_foreach_non_finite_check_and_unscale_", dtype);
  }
  if (bad.load()) *found_inf = 1.0f;
}

void amp_update_scale_cpu(float* scale, int32_t* growth_tracker, const float* found_inf,
                          double growth_factor, double backoff_factor, int64_t growth_interval) {
  if (*found_inf != 0.0f) {
    *scale = static_cast<float>(*scale * backoff_factor);
    *growth_tracker = 0;
    return;
  }
  const int64_t clean = int64_t(*growth_tracker) + 1;
  if (clean >= growth_interval) {
    const float grown = static_cast<float>(*scale * growth_factor);
    if (std::isfinite(grown)) *scale = grown;
    *growth_tracker = 0;
  } else {
    *growth_tracker = int32_t(clean);
  }
}

}  // namespace

void register_amp_cpu() {
  amp_unscale_kernel.set(DeviceType::CPU, &amp_unscale_cpu);
  amp_update_scale_kernel.set(DeviceType::CPU, &amp_update_scale_cpu);
}

}  // namespace cpu
}  // namespace ranvier
