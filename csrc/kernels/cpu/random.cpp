// CPU random kernel: element i of a request is computed from Philox block first_block + i / k
// (Note [Random numbers]), so the output is the same for any thread count.
#include <cmath>

#include "core/parallel.h"
#include "kernels/common/philox.h"
#include "ops/random.h"

namespace ranvier::cpu {

namespace {

constexpr double kTwoPi = 6.283185307179586476925;

void random_cpu(const RandomRequest& r, void* out, DType dtype, int64_t n) {
  const uint64_t seed = r.seed, first = r.first_block;
  if (r.dist == RandomDist::RandInt) {
    int64_t* o = static_cast<int64_t*>(out);
    const uint64_t lo = uint64_t(int64_t(r.a));
    const uint64_t range = uint64_t(int64_t(r.b) - int64_t(r.a));
    parallel_for(0, (n + 1) / 2, 4096, [&](int64_t b, int64_t e) {
      for (int64_t k = b; k < e; ++k) {
        Philox4 p = philox4x32_10(seed, first + uint64_t(k));
        for (int j = 0; j < 2 && 2 * k + j < n; ++j) {
          uint64_t v = (uint64_t(p.v[2 * j]) << 32) | p.v[2 * j + 1];
          o[2 * k + j] = int64_t(lo + v % range);
        }
      }
    });
    return;
  }
  if (dtype == DType::Float64) {
    double* o = static_cast<double*>(out);
    parallel_for(0, (n + 1) / 2, 4096, [&](int64_t b, int64_t e) {
      for (int64_t k = b; k < e; ++k) {
        Philox4 p = philox4x32_10(seed, first + uint64_t(k));
        double u0 = uniform_double(p.v[0], p.v[1]), u1 = uniform_double(p.v[2], p.v[3]);
        double v[2];
        if (r.dist == RandomDist::Uniform) {
          v[0] = r.a + (r.b - r.a) * u0;
          v[1] = r.a + (r.b - r.a) * u1;
        } else {
          double rad = std::sqrt(-2.0 * std::log(1.0 - u0));  // 1 - u0 is in (0, 1]
          v[0] = r.a + r.b * rad * std::cos(kTwoPi * u1);
          v[1] = r.a + r.b * rad * std::sin(kTwoPi * u1);
        }
        for (int j = 0; j < 2 && 2 * k + j < n; ++j) o[2 * k + j] = v[j];
      }
    });
    return;
  }
  float* o = static_cast<float*>(out);
  parallel_for(0, (n + 3) / 4, 2048, [&](int64_t b, int64_t e) {
    for (int64_t k = b; k < e; ++k) {
      Philox4 p = philox4x32_10(seed, first + uint64_t(k));
      float v[4];
      if (r.dist == RandomDist::Uniform) {
        for (int j = 0; j < 4; ++j) {
          double x = r.a + (r.b - r.a) * double(uniform_float(p.v[j]));
          v[j] = float(x);
          if (v[j] >= float(r.b) && r.b > r.a) v[j] = std::nextafter(float(r.b), float(r.a));
        }
      } else {
        for (int j = 0; j < 4; j += 2) {
          float u0 = uniform_float(p.v[j]), u1 = uniform_float(p.v[j + 1]);
          float rad = std::sqrt(-2.0f * std::log(1.0f - u0));
          v[j] = float(r.a + r.b * double(rad * std::cos(float(kTwoPi) * u1)));
          v[j + 1] = float(r.a + r.b * double(rad * std::sin(float(kTwoPi) * u1)));
        }
      }
      for (int j = 0; j < 4 && 4 * k + j < n; ++j) o[4 * k + j] = v[j];
    }
  });
}

}  // namespace

void register_random_cpu() { random_kernel.set(DeviceType::CPU, &random_cpu); }

}  // namespace ranvier::cpu
