// The thread count of our OpenMP loops (OpenBLAS runs single-threaded inside them, Note
// [Thread-invariant BLAS]).
#include "core/parallel.h"

#include <atomic>
#include <exception>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/error.h"

namespace ranvier {

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
}

bool in_parallel_region() {
#ifdef _OPENMP
  return omp_in_parallel();
#else
  return false;
#endif
}

void parallel_for_chunks(int64_t begin, int64_t end, int64_t grain, ChunkFn fn,
                         const void* ctx) {
#ifdef _OPENMP
  int64_t n = end - begin;
  int nt = get_num_threads();
  if (nt > 1 && n > grain && !omp_in_parallel()) {
    int64_t max_chunks = (n + grain - 1) / (grain > 0 ? grain : 1);
    if (max_chunks < nt) nt = int(max_chunks);
    std::exception_ptr err = nullptr;
#pragma omp parallel num_threads(nt)
    {
      int tid = omp_get_thread_num();
      int nth = omp_get_num_threads();
      int64_t chunk = (n + nth - 1) / nth;
      int64_t b = begin + tid * chunk;
      int64_t e = b + chunk < end ? b + chunk : end;
      if (b < e) {
        try {
          fn(ctx, b, e);
        } catch (...) {
#pragma omp critical(ranvier_parallel_error)
          if (!err) err = std::current_exception();
        }
      }
    }
    if (err) std::rethrow_exception(err);
    return;
  }
#endif
  fn(ctx, begin, end);
}

}  // namespace ranvier
