// The CPU allocator and its cache of large blocks (Note [CPU block cache] in cpu_allocator.h).
#include "core/cpu_allocator.h"

#include <pthread.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

namespace ranvier::cpu_alloc {

namespace {

struct Cache {
  std::mutex mu;
  std::unordered_map<size_t, std::vector<void*>> free_lists;  // block size -> blocks
  int64_t cached_bytes = 0;
  int64_t cached_blocks = 0;
};

// Never destroyed: tensors may be freed during interpreter shutdown, after static destructors.
Cache* g_cache = nullptr;

void lock_for_fork() { g_cache->mu.lock(); }
void unlock_after_fork() { g_cache->mu.unlock(); }

Cache& cache() {
  static Cache* c = [] {
    g_cache = new Cache();
    // A fork while another thread holds the lock would leave the child's copy locked forever:
    // hold it across fork() so that both sides start with it free.
    pthread_atfork(&lock_for_fork, &unlock_after_fork, &unlock_after_fork);
    return g_cache;
  }();
  return *c;
}

bool read_enabled() {
  const char* v = std::getenv("RANVIER_CPU_CACHE");
  return !(v && v[0] == '0' && v[1] == '\0');
}

std::atomic<int64_t> g_allocated{0};
std::atomic<int64_t> g_peak{0};
std::atomic<int64_t> g_reserved{0};

void note_allocated(int64_t delta) {
  int64_t now = g_allocated.fetch_add(delta, std::memory_order_relaxed) + delta;
  int64_t peak = g_peak.load(std::memory_order_relaxed);
  while (now > peak && !g_peak.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
  }
}

void* system_allocate(size_t size) {
  return size <= 256 ? std::malloc(size) : std::aligned_alloc(64, size);
}

}  // namespace

bool cache_enabled() {
  static const bool enabled = read_enabled();
  return enabled;
}

size_t block_size(size_t nbytes) {
  if (nbytes <= 256) return nbytes;  // malloc: 16-byte aligned, fast for small blocks
  if (nbytes < kCacheMinBytes) return (nbytes + 63) & ~size_t(63);
  int top = 63 - __builtin_clzll(static_cast<unsigned long long>(nbytes));
  size_t step = size_t(1) << (top - 3);  // eight classes per power of two
  return (nbytes + step - 1) / step * step;
}

void* allocate(size_t nbytes) {
  if (nbytes == 0) return nullptr;
  size_t size = block_size(nbytes);
  bool cached = size >= kCacheMinBytes && cache_enabled();
  if (cached) {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mu);
    auto it = c.free_lists.find(size);
    if (it != c.free_lists.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      c.cached_bytes -= int64_t(size);
      c.cached_blocks -= 1;
      note_allocated(int64_t(size));
      return p;
    }
  }
  void* p = system_allocate(size);
  if (!p && cached) {  // out of memory: give the cache back and try once more
    empty_cache();
    p = system_allocate(size);
  }
  if (!p) return nullptr;
  g_reserved.fetch_add(int64_t(size), std::memory_order_relaxed);
  note_allocated(int64_t(size));
  return p;
}

void release(void* p, size_t nbytes) {
  if (!p) return;
  size_t size = block_size(nbytes);
  g_allocated.fetch_sub(int64_t(size), std::memory_order_relaxed);
  if (size >= kCacheMinBytes && cache_enabled()) {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mu);
    c.free_lists[size].push_back(p);
    c.cached_bytes += int64_t(size);
    c.cached_blocks += 1;
    return;
  }
  g_reserved.fetch_sub(int64_t(size), std::memory_order_relaxed);
  std::free(p);
}

int64_t empty_cache() {
  std::vector<void*> blocks;
  int64_t bytes = 0;
  {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mu);
    for (auto& kv : c.free_lists) {
      blocks.insert(blocks.end(), kv.second.begin(), kv.second.end());
      kv.second.clear();
    }
    c.free_lists.clear();
    bytes = c.cached_bytes;
    c.cached_bytes = 0;
    c.cached_blocks = 0;
  }
  for (void* p : blocks) std::free(p);
  g_reserved.fetch_sub(bytes, std::memory_order_relaxed);
  return bytes;
}

Stats stats() {
  Stats s;
  s.allocated = g_allocated.load(std::memory_order_relaxed);
  s.peak_allocated = g_peak.load(std::memory_order_relaxed);
  s.reserved = g_reserved.load(std::memory_order_relaxed);
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  s.cached_blocks = c.cached_blocks;
  return s;
}

void hold_lock_for_testing(double seconds) {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
}

void reset_peak() { g_peak.store(g_allocated.load(std::memory_order_relaxed)); }

}  // namespace ranvier::cpu_alloc
