// The one thread pool: OpenMP. parallel_for splits [begin, end) into one contiguous chunk per
// thread when the range is above the grain size, and runs serially otherwise or when already
// inside a parallel region (no nesting, no oversubscription). OpenBLAS hands its work to the
// same pool (kernels/cpu/blas.cpp), and set_num_threads governs both.
// Note [Deterministic reductions]: reductions never split by thread count; they split by
// fixed-size blocks (reduce_blocks) so that results are bitwise identical for any thread count.
#pragma once
#include <cstdint>
#include <exception>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace ranvier {

int get_num_threads();
void set_num_threads(int n);
bool in_parallel_region();

constexpr int64_t kGrainSize = 32768;

template <typename F>
void parallel_for(int64_t begin, int64_t end, int64_t grain, const F& f) {
  if (begin >= end) return;
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
          f(b, e);
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
  f(begin, end);
}

}  // namespace ranvier
