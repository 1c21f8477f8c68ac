// The block cache's bookkeeping (Note [CUDA block cache] in caching_allocator.h). No CUDA call
// here: the raw segment functions come in through RawBackend.
#include "cuda/caching_allocator.h"

#include <cstdio>

#include "core/error.h"

namespace ranvier::cuda {

std::string format_bytes(size_t n) {
  char buf[64];
  if (n < 1024) {
    std::snprintf(buf, sizeof buf, "%zu bytes", n);
  } else {
    const char* units[] = {"KiB", "MiB", "GiB", "TiB"};
    double v = double(n) / 1024.0;
    int u = 0;
    while (v >= 1024.0 && u < 3) {
      v /= 1024.0;
      ++u;
    }
    std::snprintf(buf, sizeof buf, "%.2f %s", v, units[u]);
  }
  return buf;
}

size_t CachingAllocator::round_size(size_t nbytes) {
  if (nbytes == 0) return 0;
  return (nbytes + kRound - 1) / kRound * kRound;
}

void CachingAllocator::insert_free(DeviceState& st, Block* b) {
  b->free = true;
  (b->small ? st.small_free : st.large_free).emplace(b->size, b);
}

void CachingAllocator::erase_free(DeviceState& st, Block* b) {
  FreeList& fl = b->small ? st.small_free : st.large_free;
  auto range = fl.equal_range(b->size);
  for (auto it = range.first; it != range.second; ++it) {
    if (it->second == b) {
      fl.erase(it);
      break;
    }
  }
  b->free = false;
}

CachingAllocator::Block* CachingAllocator::take_free(DeviceState& st, bool small, size_t size) {
  FreeList& fl = small ? st.small_free : st.large_free;
  auto it = fl.lower_bound(size);
  if (it == fl.end()) return nullptr;
  Block* b = it->second;
  // Fragmentation limit: an unsplittable oversize block is taken only when it fits closely.
  if (b->size > kMaxSplitSize && b->size - size >= kOversizeSlack) return nullptr;
  fl.erase(it);
  b->free = false;
  return b;
}

CachingAllocator::Block* CachingAllocator::new_segment(DeviceState& st, int device, bool small,
                                                       size_t size) {
  size_t seg = small ? kSmallSegment : (size + kLargeRound - 1) / kLargeRound * kLargeRound;
  void* p = backend_.reserve(seg, device);
  if (p == nullptr) {
    empty_cache_locked();
    p = backend_.reserve(seg, device);
    if (p == nullptr) return nullptr;
  }
  st.stats.reserved += seg;
  st.stats.segments += 1;
  return new Block{p, seg, 0, device, false, small, p, seg, nullptr, nullptr};
}

void CachingAllocator::split(DeviceState& st, Block* b, size_t size) {
  size_t rest = b->size - size;
  // Small blocks split down to one 512-byte unit; a large block only when the rest is itself
  // a large block (more than 1 MiB), so no small remainder sits in the large pool.
  bool keep_rest = b->small ? rest >= kRound : rest > kSmallSize;
  if (!keep_rest || b->size > kMaxSplitSize) return;
  Block* r = new Block{static_cast<char*>(b->ptr) + size, rest, 0, b->device, true, b->small,
                       b->segment, b->segment_size, b, b->next};
  if (b->next) b->next->prev = r;
  b->next = r;
  b->size = size;
  insert_free(st, r);
}

void* CachingAllocator::allocate(size_t nbytes, int device) {
  if (nbytes == 0) return nullptr;
  RV_CHECK(device >= 0 && device < kMaxDevices, "CUDA allocator: bad device index ", device);
  size_t size = round_size(nbytes);
  bool small = size <= kSmallSize;
  std::lock_guard<std::mutex> lock(mu_);
  DeviceState& st = dev_[device];
  Block* b = take_free(st, small, size);
  if (b == nullptr) b = new_segment(st, device, small, size);
  if (b == nullptr) out_of_memory(st, nbytes, device);
  split(st, b, size);
  st.live.emplace(b->ptr, b);
  b->used = size;
  st.stats.allocated += size;
  if (st.stats.allocated > st.stats.peak_allocated) st.stats.peak_allocated = st.stats.allocated;
  return b->ptr;
}

void CachingAllocator::release(void* ptr, int device) {
  if (ptr == nullptr) return;
  std::lock_guard<std::mutex> lock(mu_);
  DeviceState& st = dev_[device];
  auto it = st.live.find(ptr);
  RV_INTERNAL_ASSERT(it != st.live.end(), "CUDA allocator: freeing an unknown pointer");
  Block* b = it->second;
  st.live.erase(it);
  st.stats.allocated -= b->used;
  // Merge with free neighbours of the same segment.
  if (b->prev && b->prev->free) {
    Block* p = b->prev;
    erase_free(st, p);
    p->size += b->size;
    p->next = b->next;
    if (b->next) b->next->prev = p;
    delete b;
    b = p;
  }
  if (b->next && b->next->free) {
    Block* n = b->next;
    erase_free(st, n);
    b->size += n->size;
    b->next = n->next;
    if (n->next) n->next->prev = b;
    delete n;
  }
  insert_free(st, b);
}

size_t CachingAllocator::empty_cache_locked() {
  size_t freed = 0;
  for (int d = 0; d < kMaxDevices; ++d) {
    DeviceState& st = dev_[d];
    for (FreeList* fl : {&st.small_free, &st.large_free}) {
      for (auto it = fl->begin(); it != fl->end();) {
        Block* b = it->second;
        if (b->prev == nullptr && b->next == nullptr && b->size == b->segment_size) {
          backend_.give_back(b->segment, d);
          st.stats.reserved -= b->segment_size;
          st.stats.segments -= 1;
          freed += b->segment_size;
          it = fl->erase(it);
          delete b;
        } else {
          ++it;
        }
      }
    }
  }
  return freed;
}

size_t CachingAllocator::empty_cache() {
  std::lock_guard<std::mutex> lock(mu_);
  return empty_cache_locked();
}

AllocatorStats CachingAllocator::stats(int device) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (device < 0 || device >= kMaxDevices) return {};
  return dev_[device].stats;
}

void CachingAllocator::reset_peak(int device) {
  std::lock_guard<std::mutex> lock(mu_);
  if (device < 0 || device >= kMaxDevices) return;
  dev_[device].stats.peak_allocated = dev_[device].stats.allocated;
}

void CachingAllocator::out_of_memory(const DeviceState& st, size_t nbytes, int device) {
  size_t free_b = 0, total_b = 0;
  if (backend_.mem_info) backend_.mem_info(device, &free_b, &total_b);
  throw_error(ErrorKind::Runtime,
              str_cat("CUDA out of memory on cuda:", device, ": tried to allocate ",
                      format_bytes(nbytes), "; ", format_bytes(st.stats.allocated),
                      " allocated by tensors, ", format_bytes(st.stats.reserved),
                      " reserved by ranvier, ", format_bytes(free_b), " free of ",
                      format_bytes(total_b), " on the device"));
}

}  // namespace ranvier::cuda
