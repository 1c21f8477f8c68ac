// Per-op latency and throughput from C++: the 1-element add (the `overhead` workload without
// Python) and a large elementwise add/exp/sum.
#include <cstdio>

#include <ranvier.h>

#include "bench_common.h"

int main(int argc, char** argv) {
  using namespace ranvier;
  set_num_threads(bench::threads_from_args(argc, argv));
  Tensor a = ones({1}), b = ones({1});
  double t = bench::median_seconds([&] {
    for (int i = 0; i < 1000; ++i) add(a, b);
  });
  std::printf("overhead (1-element add)    %8.3f us/op\n", t / 1000 * 1e6);
  Tensor x = randn({1 << 22}), y = randn({1 << 22});
  t = bench::median_seconds([&] { add(x, y); });
  std::printf("add 4M float32              %8.2f GB/s\n", 3.0 * 4 * (1 << 22) / t * 1e-9);
  t = bench::median_seconds([&] { exp(x); });
  std::printf("exp 4M float32              %8.2f Gelem/s\n", (1 << 22) / t * 1e-9);
  t = bench::median_seconds([&] { sum(x); });
  std::printf("sum 4M float32              %8.2f GB/s\n", 4.0 * (1 << 22) / t * 1e-9);
  return 0;
}
