// Host-side test of the CUDA block cache's bookkeeping (Note [CUDA block cache]) over a
// malloc backend with an optional capacity, so it runs without a GPU. Built and run by
// .ci/cuda_build_check. Exit status 0 when every check holds.
#include <cstdio>
#include <cstdlib>
#include <map>
#include <stdexcept>
#include <string>

#include "cuda/caching_allocator.h"

using ranvier::cuda::CachingAllocator;
using ranvier::cuda::RawBackend;

namespace {
size_t g_capacity = size_t(1) << 40;
size_t g_in_use = 0;
int g_reserves = 0, g_gives = 0;
std::map<void*, size_t> g_live;  // segment -> size

void* reserve(size_t n, int) {
  if (g_in_use + n > g_capacity) return nullptr;
  void* p = std::malloc(n);
  g_in_use += n;
  g_reserves++;
  g_live[p] = n;
  return p;
}
void give_back(void* p, int) {
  if (!g_live.count(p)) {
    std::printf("FAIL: give_back of a pointer that is not a segment\n");
    std::exit(1);
  }
  g_in_use -= g_live[p];
  g_live.erase(p);
  std::free(p);
  g_gives++;
}
void mem_info(int, size_t* f, size_t* t) {
  *t = g_capacity;
  *f = g_capacity - g_in_use;
}

int failures = 0;
#define CHECK(cond)                                                  \
  do {                                                               \
    if (!(cond)) {                                                   \
      std::printf("FAIL line %d: %s\n", __LINE__, #cond);            \
      ++failures;                                                    \
    }                                                                \
  } while (0)

constexpr size_t MiB = size_t(1) << 20;
}  // namespace

int main() {
  CachingAllocator a(RawBackend{&reserve, &give_back, &mem_info});
  // Rounding.
  CHECK(CachingAllocator::round_size(1) == 512);
  CHECK(CachingAllocator::round_size(512) == 512);
  CHECK(CachingAllocator::round_size(513) == 1024);
  CHECK(a.allocate(0, 0) == nullptr);

  // Small requests share one 2 MiB segment.
  void* p1 = a.allocate(100, 0);
  void* p2 = a.allocate(1000, 0);
  CHECK(p1 && p2 && p1 != p2);
  CHECK(g_reserves == 1);
  CHECK(a.stats(0).allocated == 512 + 1024);
  CHECK(a.stats(0).reserved == 2 * MiB);
  CHECK(static_cast<char*>(p2) - static_cast<char*>(p1) == 512);  // split, adjacent

  // Freed blocks are reused; merging restores one free segment that empty_cache gives back.
  a.release(p1, 0);
  void* p3 = a.allocate(200, 0);
  CHECK(p3 == p1);
  CHECK(g_reserves == 1);
  a.release(p3, 0);
  a.release(p2, 0);
  CHECK(a.stats(0).allocated == 0);
  CHECK(a.stats(0).peak_allocated == 512 + 1024);
  CHECK(a.empty_cache() == 2 * MiB);
  CHECK(a.stats(0).reserved == 0);
  CHECK(g_gives == 1);

  // Large requests: own segment rounded to 2 MiB; a cached large block is split for a smaller
  // large request, the rest (>= 1 MiB) stays cached.
  void* l1 = a.allocate(7 * MiB, 0);
  CHECK(a.stats(0).reserved == 8 * MiB);
  CHECK(a.stats(0).allocated == 7 * MiB);  // the 1 MiB rest stays with the block (no split)
  a.release(l1, 0);
  void* l2 = a.allocate(3 * MiB, 0);
  CHECK(l2 == l1);
  CHECK(a.stats(0).allocated == 3 * MiB);
  void* l3 = a.allocate(5 * MiB, 0);
  CHECK(static_cast<char*>(l3) == static_cast<char*>(l1) + 3 * MiB);
  CHECK(a.stats(0).reserved == 8 * MiB);
  // A segment with a block in use is not given back.
  a.release(l3, 0);
  CHECK(a.empty_cache() == 0);
  a.release(l2, 0);
  CHECK(a.empty_cache() == 8 * MiB);

  // Fragmentation limit: a cached oversize block (> 256 MiB) is not handed to a much smaller
  // request and is never split.
  void* big = a.allocate(300 * MiB, 0);
  a.release(big, 0);
  int before = g_reserves;
  void* mid = a.allocate(10 * MiB, 0);
  CHECK(mid != big);
  CHECK(g_reserves == before + 1);
  void* close = a.allocate(290 * MiB, 0);
  CHECK(close == big);
  CHECK(a.stats(0).allocated == 10 * MiB + 290 * MiB);
  a.release(close, 0);
  a.release(mid, 0);
  a.empty_cache();

  // Peak reset.
  void* q = a.allocate(4 * MiB, 0);
  a.release(q, 0);
  CHECK(a.stats(0).peak_allocated >= 4 * MiB);
  a.reset_peak(0);
  CHECK(a.stats(0).peak_allocated == 0);

  // Devices are counted separately.
  void* d1 = a.allocate(1000, 1);
  CHECK(a.stats(1).allocated == 1024);
  CHECK(a.stats(0).allocated == 0);
  a.release(d1, 1);

  // Out of memory: the cache is emptied and the request retried; then a clear error.
  a.empty_cache();
  g_capacity = g_in_use + 10 * MiB;
  void* c1 = a.allocate(6 * MiB, 0);  // fits
  a.release(c1, 0);                   // cached: 6 MiB reserved
  void* c2 = a.allocate(8 * MiB, 0);  // needs the cached segment given back first
  CHECK(c2 != nullptr);
  bool threw = false;
  try {
    a.allocate(64 * MiB, 0);
  } catch (const std::exception& e) {
    std::string m = e.what();
    threw = m.find("CUDA out of memory") != std::string::npos &&
            m.find("tried to allocate 64.00 MiB") != std::string::npos &&
            m.find("8.00 MiB allocated") != std::string::npos &&
            m.find("reserved") != std::string::npos && m.find("free") != std::string::npos;
    if (!threw) std::printf("message: %s\n", m.c_str());
  }
  CHECK(threw);
  a.release(c2, 0);
  a.empty_cache();
  CHECK(g_live.empty());  // every segment went back

  if (failures) {
    std::printf("caching_allocator_test: %d failure(s)\n", failures);
    return 1;
  }
  std::printf("caching_allocator_test: ok\n");
  return 0;
}
