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

// One function per vector width, the same body: twelve chains a0 .. a11 from `seed` (passed in
// so that the compiler cannot fold them into one), each step a0 = a0 * mul + c, and a result
// that depends on every chain (so that none is optimised away).
#define RV_FMA_CHAINS(NAME, TARGET, V, SET1, FMA, ADD, FIRST)                                 \
  __attribute__((target(TARGET))) float NAME(float seed, float mul) {                        \
    V a0 = SET1(seed), a1 = SET1(seed + 1e-3f), a2 = SET1(seed + 2e-3f),                     \
      a3 = SET1(seed + 3e-3f), a4 = SET1(seed + 4e-3f), a5 = SET1(seed + 5e-3f),             \
      a6 = SET1(seed + 6e-3f), a7 = SET1(seed + 7e-3f), a8 = SET1(seed + 8e-3f),             \
      a9 = SET1(seed + 9e-3f), a10 = SET1(seed + 10e-3f), a11 = SET1(seed + 11e-3f);         \
    const V b = SET1(mul), c = SET1(1e-7f);                                                  \
    for (long n = 0; n < kSteps; ++n) {                                                      \
      a0 = FMA(a0, b, c), a1 = FMA(a1, b, c), a2 = FMA(a2, b, c), a3 = FMA(a3, b, c);        \
      a4 = FMA(a4, b, c), a5 = FMA(a5, b, c), a6 = FMA(a6, b, c), a7 = FMA(a7, b, c);        \
      a8 = FMA(a8, b, c), a9 = FMA(a9, b, c), a10 = FMA(a10, b, c), a11 = FMA(a11, b, c);    \
    }                                                                                        \
    const V s = ADD(ADD(ADD(ADD(a0, a1), ADD(a2, a3)), ADD(ADD(a4, a5), ADD(a6, a7))),       \
                    ADD(ADD(a8, a9), ADD(a10, a11)));                                        \
    return FIRST(s);                                                                         \
  }

RV_FMA_CHAINS(chains_avx2, "avx2,fma", __m256, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_add_ps,
              _mm256_cvtss_f32)
RV_FMA_CHAINS(chains_avx512, "avx512f", __m512, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_add_ps,
              _mm512_cvtss_f32)
#undef RV_FMA_CHAINS

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
  // what the hardware has (not cpu_capability(), which RANVIER_CPU_CAPABILITY can lower)
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
