// Host-side test of the CUDA random kernel's per-block math (kernels/cuda/random.cuh),
// compiled with nvcc and run on the CPU, against the CPU kernel (through its slot in
// libranvier) for the same requests: randint and uniform (float32, float64, odd lengths, a
// first block past 2^32, narrow and wide ranges) must match bit for bit; normal values must
// match to 4 ulp (float) / 8 ulp (double), and float normal bitwise in at least 98% of values
// (the C library's float log / sin / cos are not always correctly rounded; about 98.5% here).
// The double normal path runs the host's double log / sin / cos in this test, so only the
// device's own libm can make it differ on a GPU. Built and run by .ci/cuda_build_check.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#include "kernels/cuda/random.cuh"
#include "cuda/test/check.h"

using namespace ranvier;
using namespace ranvier::cuda;


template <typename T>
static int64_t ulps(T a, T b) {
  using U = std::conditional_t<sizeof(T) == 4, int32_t, int64_t>;
  U x, y;
  std::memcpy(&x, &a, sizeof x);
  std::memcpy(&y, &b, sizeof y);
  if (x < 0) x = std::numeric_limits<U>::min() - x;
  if (y < 0) y = std::numeric_limits<U>::min() - y;
  return x > y ? int64_t(x) - int64_t(y) : int64_t(y) - int64_t(x);
}

template <typename T>
static void run(const RandomRequest& r, DType dt, int64_t n, int64_t max_ulp, double min_exact,
                const char* what, bool verbose) {
  std::vector<T> cpu(static_cast<size_t>(n)), dev(static_cast<size_t>(n));
  random_kernel.get(Device(DeviceType::CPU), "test")(r, cpu.data(), dt, n);
  const int per = random_math::per_block(r.dist, dt);
  for (int64_t kb = 0; kb < (n + per - 1) / per; ++kb) random_math::random_block(r, dev.data(), dt, n, kb);
  int64_t exact = 0, worst = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (std::memcmp(&cpu[size_t(i)], &dev[size_t(i)], sizeof(T)) == 0) {
      ++exact;
      continue;
    }
    if constexpr (std::is_floating_point_v<T>) worst = std::max(worst, ulps(cpu[size_t(i)], dev[size_t(i)]));
    else worst = INT64_MAX;
  }
  const double share = double(exact) / double(n);
  if (verbose)
    std::printf("  %-28s %lld values: %.5f%% bitwise equal, worst %lld ulp\n", what, (long long)n,
              100.0 * share, (long long)worst);
  CHECK(worst <= max_ulp && share >= min_exact, "%s", what);
}

int main() {
  const uint64_t seeds[] = {0, 42, 0x123456789abcdefull};
  for (uint64_t seed : seeds) {
    for (uint64_t first : {uint64_t(0), uint64_t(7), (uint64_t(1) << 32) + 3}) {
      const bool verbose = seed == 0 && first == 0;
      run<float>({RandomDist::Uniform, seed, first, 0.0, 1.0}, DType::Float32, 100003, 0, 1.0, "uniform float32 [0,1)", verbose);
      run<float>({RandomDist::Uniform, seed, first, -3.0, 1e-7}, DType::Float32, 1001, 0, 1.0, "uniform float32 narrow", verbose);
      run<double>({RandomDist::Uniform, seed, first, 0.0, 1.0}, DType::Float64, 100001, 0, 1.0, "uniform float64 [0,1)", verbose);
      run<double>({RandomDist::Uniform, seed, first, -1e30, 5.0}, DType::Float64, 1001, 0, 1.0, "uniform float64 wide", verbose);
      run<int64_t>({RandomDist::RandInt, seed, first, -5.0, 17.0}, DType::Int64, 10001, 0, 1.0, "randint [-5,17)", verbose);
      run<int64_t>({RandomDist::RandInt, seed, first, 0.0, 1e15}, DType::Int64, 10001, 0, 1.0, "randint [0,1e15)", verbose);
      run<float>({RandomDist::Normal, seed, first, 0.0, 1.0}, DType::Float32, 100003, 4, 0.98, "normal float32", verbose);
      run<float>({RandomDist::Normal, seed, first, 2.5, 0.1}, DType::Float32, 1001, 4, 0.99, "normal float32 (2.5, 0.1)", verbose);
      run<double>({RandomDist::Normal, seed, first, 0.0, 1.0}, DType::Float64, 100001, 8, 0.9, "normal float64", verbose);
    }
  }
  if (failures) {
    std::printf("random_math_test: %d failure(s)\n", failures);
    return 1;
  }
  std::printf("random_math_test: ok\n");
  return 0;
}
