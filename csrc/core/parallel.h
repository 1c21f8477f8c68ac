// The one thread pool: OpenMP. parallel_for splits [begin, end) into one contiguous chunk per
// thread when the range is above the grain size, and runs serially otherwise or when already
// inside a parallel region (no nesting, no oversubscription). OpenBLAS hands its work to the
// same pool (kernels/cpu/blas.cpp), and set_num_threads governs both.
// Note [Deterministic reductions]: reductions never split by thread count; they split by
// fixed-size blocks (reduce_blocks) so that results are bitwise identical for any thread count.
#pragma once
#include <cstdint>

namespace ranvier {

int get_num_threads();
void set_num_threads(int n);
bool in_parallel_region();

constexpr int64_t kGrainSize = 32768;

// The OpenMP region lives in parallel.cpp, compiled once: each parallel_for call site only
// instantiates its chunk function (one copy of the loop body), reached through a pointer.
using ChunkFn = void (*)(const void* ctx, int64_t begin, int64_t end);
void parallel_for_chunks(int64_t begin, int64_t end, int64_t grain, ChunkFn fn,
                         const void* ctx);

template <typename F>
void parallel_for(int64_t begin, int64_t end, int64_t grain, const F& f) {
  if (begin >= end) return;
  parallel_for_chunks(
      begin, end, grain,
      [](const void* ctx, int64_t b, int64_t e) { (*static_cast<const F*>(ctx))(b, e); },
      &f);
}

}  // namespace ranvier
