// The CPU's float32 FMA peak: twelve independent FMA chains held in registers (no loads or
// stores), on 1 .. N threads at once, at each vector width the CPU runs (8 floats with AVX2 +
// FMA, 16 with AVX-512). Twelve chains cover the FMA latency (4-5 cycles) times two FMA units.
// This is the ceiling every GEMM-bound figure of docs/performance.md is compared with: a GEMM
// also loads its operands and stores its tiles, so it lands somewhat below it.
//
//   bench_fma_peak [--threads N]    (default 2)
#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include "bench_common.h"

namespace {

constexpr long kSteps = 100000000;  // of 12 FMAs a chain set: ~0.4 s a run at ~3 GHz

#define STEP12(F)                                                                        \
  F(a0) F(a1) F(a2) F(a3) F(a4) F(a5) F(a6) F(a7) F(a8) F(a9) F(a10) F(a11)

// Runs the chains; returns a value that depends on every chain (so none is optimised away).
// `seed` comes from outside so that the compiler cannot fold the chains into one.
__attribute__((target("avx2,fma"))) float chains_avx2(float seed, float mul) {
  __m256 a0 = _mm256_set1_ps(seed), a1 = _mm256_set1_ps(seed + 1e-3f),
         a2 = _mm256_set1_ps(seed + 2e-3f), a3 = _mm256_set1_ps(seed + 3e-3f),
         a4 = _mm256_set1_ps(seed + 4e-3f), a5 = _mm256_set1_ps(seed + 5e-3f),
         a6 = _mm256_set1_ps(seed + 6e-3f), a7 = _mm256_set1_ps(seed + 7e-3f),
         a8 = _mm256_set1_ps(seed + 8e-3f), a9 = _mm256_set1_ps(seed + 9e-3f),
         a10 = _mm256_set1_ps(seed + 10e-3f), a11 = _mm256_set1_ps(seed + 11e-3f);
  const __m256 b = _mm256_set1_ps(mul), c = _mm256_set1_ps(1e-7f);
  for (long n = 0; n < kSteps; ++n) {
#define FMA8(x) x = _mm256_fmadd_ps(x, b, c);
    STEP12(FMA8)
#undef FMA8
  }
  __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                           _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
  s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)));
  return _mm256_cvtss_f32(s);
}

__attribute__((target("avx512f"))) float chains_avx512(float seed, float mul) {
  __m512 a0 = _mm512_set1_ps(seed), a1 = _mm512_set1_ps(seed + 1e-3f),
         a2 = _mm512_set1_ps(seed + 2e-3f), a3 = _mm512_set1_ps(seed + 3e-3f),
         a4 = _mm512_set1_ps(seed + 4e-3f), a5 = _mm512_set1_ps(seed + 5e-3f),
         a6 = _mm512_set1_ps(seed + 6e-3f), a7 = _mm512_set1_ps(seed + 7e-3f),
         a8 = _mm512_set1_ps(seed + 8e-3f), a9 = _mm512_set1_ps(seed + 9e-3f),
         a10 = _mm512_set1_ps(seed + 10e-3f), a11 = _mm512_set1_ps(seed + 11e-3f);
  const __m512 b = _mm512_set1_ps(mul), c = _mm512_set1_ps(1e-7f);
  for (long n = 0; n < kSteps; ++n) {
#define FMA16(x) x = _mm512_fmadd_ps(x, b, c);
    STEP12(FMA16)
#undef FMA16
  }
  __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                           _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
  s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)));
  return _mm512_reduce_add_ps(s);
}

// GFLOP/s of `threads` threads running the chains at once (each FMA lane is two FLOPs), the
// best of three runs.
double peak(int threads, int width, volatile float* sink) {
  double best = 0;
  for (int run = 0; run < 3; ++run) {
    std::atomic<int> ready{0};
    std::vector<std::thread> pool;
    std::vector<double> secs(size_t(threads), 0.0);
    for (int t = 0; t < threads; ++t)
      pool.emplace_back([&, t] {
        ready.fetch_add(1);
        while (ready.load() < threads) {
        }
        const auto a = std::chrono::steady_clock::now();
        const float seed = 1.0f + float(t) * 1e-4f;
        const float mul = sink[threads];
        sink[t] = width == 16 ? chains_avx512(seed, mul) : chains_avx2(seed, mul);
        secs[size_t(t)] =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count();
      });
    for (auto& th : pool) th.join();
    const double slowest = *std::max_element(secs.begin(), secs.end());
    best = std::max(best, double(threads) * kSteps * 12.0 * width * 2.0 / slowest * 1e-9);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = std::max(1, bench::threads_from_args(argc, argv));
  std::vector<float> sink_store(size_t(threads) + 1, 0.0f);
  volatile float* sink = sink_store.data();
  sink[threads] = 0.999999f;  // the multiplier, read at run time
  __builtin_cpu_init();
  std::vector<int> widths;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) widths.push_back(8);
  if (__builtin_cpu_supports("avx512f")) widths.push_back(16);
  if (widths.empty()) {
    std::printf("fma peak: the CPU has neither AVX2 + FMA nor AVX-512\n");
    return 0;
  }
  for (int w : widths)
    for (int t = 1; t <= threads; ++t) {
      const double g = peak(t, w, sink);
      std::printf("fma peak  %2d-float FMAs  %d thread%s  %7.1f GFLOP/s  (%.1f a thread)\n", w, t,
                  t == 1 ? " " : "s", g, g / t);
    }
  return 0;
}
