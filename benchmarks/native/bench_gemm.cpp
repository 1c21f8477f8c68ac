// SGEMM throughput through the C++ API (the `sgemm` workload without Python).
#include <cstdio>

#include <ranvier.h>

#include "bench_common.h"

int main(int argc, char** argv) {
  using namespace ranvier;
  set_num_threads(bench::threads_from_args(argc, argv));
  for (int64_t n : {256, 512, 1024, 2048}) {
    Tensor a = randn({n, n}), b = randn({n, n});
    double t = bench::median_seconds([&] { matmul(a, b); });
    std::printf("sgemm %5lld  %8.1f GFLOP/s\n", static_cast<long long>(n),
                2.0 * double(n) * double(n) * double(n) / t * 1e-9);
  }
  return 0;
}
