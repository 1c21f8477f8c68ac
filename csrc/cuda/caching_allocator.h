// CachingAllocator: the block cache behind CUDA tensors, written against two raw functions
// (reserve / give back a segment) so that its bookkeeping does not depend on a GPU.
//
// Note [CUDA block cache]
// - Requests are rounded up to 512 bytes. Requests up to 1 MiB ("small") are carved out of
//   2 MiB segments; larger ones get their own segment rounded up to 2 MiB.
// - Freed blocks go to per-size free lists (a size-ordered map per device); a request takes the
//   smallest free block that fits. A bigger block is split when the rest is worth keeping (at
//   least 512 bytes for small blocks, more than 1 MiB for large ones). Blocks above kMaxSplitSize are
//   never split and are taken only when they waste less than kOversizeSlack, so one huge cached
//   block cannot be chopped up by small requests (fragmentation limit).
// - A freed block merges with its free neighbours of the same segment.
// - empty_cache() gives back every segment that has no block in use.
// - When the raw allocation fails, the cache is emptied and the request tried once more; then
//   an out-of-memory RuntimeError says requested / allocated / reserved / free.
// One default stream: no per-stream lists yet.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace ranvier::cuda {

struct RawBackend {
  // Returns nullptr when out of memory.
  void* (*reserve)(size_t nbytes, int device) = nullptr;
  void (*give_back)(void* ptr, int device) = nullptr;
  // Free and total device memory, for the out-of-memory message (may be null).
  void (*mem_info)(int device, size_t* free, size_t* total) = nullptr;
};

struct AllocatorStats {
  size_t allocated = 0;       // bytes asked for by live tensors, each rounded up to 512
  size_t peak_allocated = 0;  // max of allocated since the last reset
  size_t reserved = 0;        // bytes in segments (live + cached)
  size_t segments = 0;
};

class CachingAllocator {
 public:
  static constexpr size_t kRound = 512;
  static constexpr size_t kSmallSize = size_t(1) << 20;
  static constexpr size_t kSmallSegment = size_t(2) << 20;
  static constexpr size_t kLargeRound = size_t(2) << 20;
  static constexpr size_t kMaxSplitSize = size_t(256) << 20;
  static constexpr size_t kOversizeSlack = size_t(20) << 20;
  static constexpr int kMaxDevices = 64;

  explicit CachingAllocator(RawBackend backend) : backend_(backend) {}
  ~CachingAllocator() = default;  // segments live as long as the process

  // Rounded size of a request (what the stats count).
  static size_t round_size(size_t nbytes);
  // A block of at least nbytes on device; nullptr for nbytes == 0. Throws on out of memory.
  void* allocate(size_t nbytes, int device);
  void release(void* ptr, int device);
  // Gives back every fully free segment; returns the bytes given back.
  size_t empty_cache();
  AllocatorStats stats(int device) const;
  void reset_peak(int device);

 private:
  struct Block {
    void* ptr;
    size_t size;
    size_t used;     // rounded request size while in use (what the stats count)
    int device;
    bool free;
    bool small;      // carved from a small-pool segment
    void* segment;   // start of the segment this block belongs to
    size_t segment_size;
    Block* prev;     // neighbours inside the segment
    Block* next;
  };
  using FreeList = std::multimap<size_t, Block*>;
  struct DeviceState {
    FreeList small_free, large_free;
    std::map<void*, Block*> live;
    AllocatorStats stats;
  };

  Block* take_free(DeviceState& st, bool small, size_t size);
  Block* new_segment(DeviceState& st, int device, bool small, size_t size);
  void split(DeviceState& st, Block* b, size_t size);
  void insert_free(DeviceState& st, Block* b);
  void erase_free(DeviceState& st, Block* b);
  size_t empty_cache_locked();
  [[noreturn]] void out_of_memory(const DeviceState& st, size_t nbytes, int device);

  RawBackend backend_;
  mutable std::mutex mu_;
  DeviceState dev_[kMaxDevices];
};

// "1.50 GiB", "512.00 KiB", "12 bytes".
std::string format_bytes(size_t n);

}  // namespace ranvier::cuda
