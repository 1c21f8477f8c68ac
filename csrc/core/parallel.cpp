// Thread count shared by our OpenMP loops and OpenBLAS.
#include "core/parallel.h"

#include <atomic>

#include "core/error.h"

namespace ranvier {

void set_blas_num_threads(int n);  // kernels/cpu/blas.cpp

namespace {
int initial_threads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}
std::atomic<int> g_threads{initial_threads()};
}  // namespace

int get_num_threads() { return g_threads.load(std::memory_order_relaxed); }

void set_num_threads(int n) {
  RV_CHECK_VALUE(n > 0, "set_num_threads: expected a positive number of threads, got ", n);
  g_threads.store(n, std::memory_order_relaxed);
#ifdef _OPENMP
  omp_set_num_threads(n);
#endif
  set_blas_num_threads(n);
}

bool in_parallel_region() {
#ifdef _OPENMP
  return omp_in_parallel();
#else
  return false;
#endif
}

}  // namespace ranvier
