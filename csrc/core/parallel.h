// The one thread pool: OpenMP. parallel_for splits [begin, end) into one contiguous chunk per
// thread when the range is above the grain size, and runs serially otherwise or when already
// inside a parallel region (no nesting, no oversubscription). OpenBLAS hands its work to the
// same pool (kernels/cpu/blas.cpp), and set_num_threads governs both.
// Note [Deterministic reductions]: reductions never split by thread count; they split by
// fixed-size blocks (reduce_blocks) so that results are bitwise identical for any thread count.
#pragma once
#include <algorithm>
#include <atomic>
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

// Items of uneven or unpredictable cost: every thread runs work(next), where next() hands out
// the indices [begin, end), each once and in increasing order across all threads, then -1; a
// thread that runs slower (a busier core) simply takes fewer. Serial inside a parallel region
// or on one thread. What an item computes must not depend on the thread that takes it.
template <typename W>
void parallel_items(int64_t begin, int64_t end, const W& work) {
  if (begin >= end) return;
  const int64_t threads = get_num_threads();
  if (end - begin < 2 || threads < 2 || in_parallel_region()) {
    int64_t i = begin;
    work([&] { return i < end ? i++ : int64_t(-1); });
    return;
  }
  std::atomic<int64_t> counter{begin};
  auto next = [&] {
    const int64_t i = counter.fetch_add(1, std::memory_order_relaxed);
    return i < end ? i : int64_t(-1);
  };
  parallel_for(0, std::min(threads, end - begin), 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) work(next);
  });
}

}  // namespace ranvier
