// Host-side test of the CUDA upsample kernels' per-element math and inverse tap tables
// (kernels/cuda/upsample.cuh), compiled with nvcc and run on the CPU: forward (one output
// element at a time) and backward (a gather per input element) must be bitwise the CPU
// kernels' (through their slots in libranvier) for nearest-like (k = 1), linear-like (k = 2,
// repeated indices at the clamped borders), cubic-like (k = 4) and wide (k = 5) tap tables
// over 1, 2 and 3 spatial dims, float32 and float64. Built and run by .ci/cuda_build_check.
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/cuda/upsample.cuh"

using namespace ranvier;
using namespace ranvier::cuda::upsample_math;

#include "cuda/test/check.h"
static const Device kCpu(DeviceType::CPU);

struct Taps {
  std::vector<int64_t> idx;
  std::vector<double> w;
};

// k taps per output, indices around j * in / out clamped to [0, in), random weights.
static Taps taps(int64_t in, int64_t out, int64_t k, std::mt19937& rng) {
  std::uniform_real_distribution<double> u(-0.5, 1.0);
  Taps t;
  for (int64_t j = 0; j < out; ++j) {
    const int64_t c = (j * in) / out;
    for (int64_t a = 0; a < k; ++a) {
      int64_t i = c + a - (k - 1) / 2;
      t.idx.push_back(i < 0 ? 0 : (i >= in ? in - 1 : i));
      t.w.push_back(k == 1 ? 1.0 : u(rng));
    }
  }
  return t;
}

template <typename T>
static void run(DType dt, int64_t planes, const int64_t (&in)[3], const int64_t (&out)[3],
                const int64_t (&k)[3]) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<double> u(-2, 2);
  Taps tp[3];
  UpsampleSpec s;
  s.dtype = dt;
  s.planes = planes;
  for (int q = 0; q < 3; ++q) {
    s.in[q] = in[q];
    s.out[q] = out[q];
    s.k[q] = k[q];
    tp[q] = taps(in[q], out[q], k[q], rng);
    s.idx[q] = tp[q].idx.data();
    s.w[q] = tp[q].w.data();
  }
  const int64_t ni = planes * in[0] * in[1] * in[2], no = planes * out[0] * out[1] * out[2];
  std::vector<T> x(static_cast<size_t>(ni)), g(static_cast<size_t>(no));
  for (auto& v : x) v = T(u(rng));
  for (auto& v : g) v = T(u(rng));
  std::vector<T> yc(static_cast<size_t>(no)), yg(static_cast<size_t>(no));
  s.src = x.data();
  s.dst = yc.data();
  upsample_forward_kernel.get(kCpu, "t")(s);
  s.dst = yg.data();
  for (int64_t e = 0; e < no; ++e) forward_element<T>(s, e);
  std::vector<T> gc(static_cast<size_t>(ni)), gg(static_cast<size_t>(ni));
  s.src = g.data();
  s.dst = gc.data();
  upsample_backward_kernel.get(kCpu, "t")(s);
  std::vector<int64_t> tables[3];
  Inverse inv[3];
  for (int q = 0; q < 3; ++q) {
    tables[q] = inverse_table(s.idx[q], out[q], k[q], in[q]);
    inv[q] = inverse_view(tables[q].data(), in[q], out[q] * k[q]);
  }
  s.dst = gg.data();
  for (int64_t e = 0; e < ni; ++e) backward_element<T>(s, inv, e);
  const bool fwd = std::memcmp(yc.data(), yg.data(), yc.size() * sizeof(T)) == 0;
  const bool bwd = std::memcmp(gc.data(), gg.data(), gc.size() * sizeof(T)) == 0;
  if (!fwd || !bwd) {
    std::printf("FAIL upsample %s in %lldx%lldx%lld out %lldx%lldx%lld k %lld%lld%lld: forward %d backward %d\n",
                dtype_name(dt), (long long)in[0], (long long)in[1], (long long)in[2], (long long)out[0],
                (long long)out[1], (long long)out[2], (long long)k[0], (long long)k[1], (long long)k[2], fwd, bwd);
    ++failures;
  }
}

template <typename T>
static void test_all(DType dt) {
  run<T>(dt, 3, {1, 1, 7}, {1, 1, 15}, {1, 1, 2});
  run<T>(dt, 2, {1, 5, 6}, {1, 11, 13}, {1, 2, 2});
  run<T>(dt, 2, {1, 6, 5}, {1, 12, 9}, {1, 4, 4});
  run<T>(dt, 2, {1, 9, 8}, {1, 4, 3}, {1, 5, 5});  // downsampling, wide windows
  run<T>(dt, 1, {1, 4, 4}, {1, 8, 8}, {1, 1, 1});
  run<T>(dt, 2, {3, 4, 5}, {6, 7, 9}, {2, 2, 2});
}

int main() {
  test_all<float>(DType::Float32);
  test_all<double>(DType::Float64);
  if (failures) {
    std::printf("upsample_math_test: %d failure(s)\n", failures);
    return 1;
  }
  std::printf("upsample_math_test: ok\n");
  return 0;
}
