// The CPU allocator: 64-byte aligned blocks, with a cache of freed blocks of 1 KiB and more.
// Note [CPU block cache]: a training step frees and re-allocates the same activation sizes
// every step. Large blocks from the C library are mmap-ed and unmapped again on free, so each
// step would page-fault all its activations back in (zeroed by the kernel); mid-sized aligned
// blocks take the C library's slow path (no thread cache above 1 KiB, splitting and merging
// of chunks), which costs more than a small op itself. Blocks of at
// least kCacheMinBytes are therefore rounded up to a size class (eight per power of two, so at
// most 12.5% slack) and, when freed, kept on a free list of their class for the next request
// of that class. `empty_cache()` hands the cached blocks back to the system. Setting the
// environment variable RANVIER_CPU_CACHE=0 before the first allocation turns the cache off
// (every block goes straight back to the C library), e.g. for memory checkers.
#pragma once
#include <cstddef>
#include <cstdint>

namespace ranvier::cpu_alloc {

constexpr size_t kCacheMinBytes = size_t(1) << 10;

void* allocate(size_t nbytes);
void release(void* p, size_t nbytes);

// The size a request of nbytes really occupies (its class for cached sizes).
size_t block_size(size_t nbytes);

struct Stats {
  int64_t allocated = 0;       // bytes in live tensors' blocks (by block size)
  int64_t peak_allocated = 0;  // the most `allocated` has been since the last reset
  int64_t reserved = 0;        // allocated + bytes held in the cache
  int64_t cached_blocks = 0;   // blocks on the free lists
};
Stats stats();
void reset_peak();
// Frees every cached block; returns the number of bytes handed back.
int64_t empty_cache();
bool cache_enabled();
// Holds the cache's lock for that long (tests use it to fork while another thread holds it).
void hold_lock_for_testing(double seconds);

}  // namespace ranvier::cpu_alloc
