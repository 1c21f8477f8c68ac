// A stand-in for libranvier_cuda that needs no GPU: "CUDA" memory is host memory handed out by
// the real caching allocator (over malloc), the CUDA kernel slots get the CPU kernels, and the
// cross-device copy is memcpy. It exports the same C entry points, so that
//   RANVIER_CUDA_LIBRARY=.../libranvier_fake_cuda.so pytest tests/test_cuda_device.py
// exercises everything between Python and the kernels (device moves, cross-device copy_,
// factories, autograd through moves, allocator statistics, errors) on a machine without a GPU.
// Test tool only: built by .ci/cuda_build_check, never installed.
#include <cstdlib>
#include <cstring>
#include <map>

#include "core/storage.h"
#include "cuda/caching_allocator.h"
#include "ops/binary.h"
#include "ops/copy.h"
#include "ops/unary.h"

using namespace ranvier;
using ranvier::cuda::AllocatorStats;
using ranvier::cuda::CachingAllocator;
using ranvier::cuda::RawBackend;

namespace {
constexpr size_t kFakeMemory = size_t(1) << 30;  // the fake device's size
size_t g_used = 0;
std::map<void*, size_t> g_segments;

void* reserve(size_t n, int) {
  if (g_used + n > kFakeMemory) return nullptr;
  void* p = std::malloc(n);
  if (p) {
    g_used += n;
    g_segments[p] = n;
  }
  return p;
}
void give_back(void* p, int) {
  g_used -= g_segments[p];
  g_segments.erase(p);
  std::free(p);
}
void mem_info(int, size_t* f, size_t* t) {
  *t = kFakeMemory;
  *f = kFakeMemory - g_used;
}

CachingAllocator& allocator() {
  static CachingAllocator* a = new CachingAllocator(RawBackend{&reserve, &give_back, &mem_info});
  return *a;
}
void* alloc_slot(size_t n, Device d) { return allocator().allocate(n, d.index); }
void release_slot(void* p, size_t, Device d) { allocator().release(p, d.index); }
void fake_memcpy(void* dst, Device, const void* src, Device, size_t n) { std::memcpy(dst, src, n); }

template <typename Fn>
void mirror(KernelSlot<Fn>& slot) {
  slot.set(DeviceType::CUDA, slot.fn[int(DeviceType::CPU)]);
}
}  // namespace

extern "C" {
int ranvier_cuda_init() {
  static bool done = false;
  if (!done) {
    ensure_kernels_registered();
    DeviceAllocator& a = device_allocator(DeviceType::CUDA);
    a.allocate = &alloc_slot;
    a.release = &release_slot;
    device_memcpy = &fake_memcpy;
    mirror(cast_kernel);
    mirror(fill_kernel);
    mirror(binary_kernel);
    mirror(unary_kernel);
    done = true;
  }
  return 1;
}
const char* ranvier_cuda_last_error() { return ""; }
int ranvier_cuda_current_device() { return 0; }
int ranvier_cuda_set_device(int d) { return d == 0 ? 0 : -1; }
int ranvier_cuda_synchronize(int) { return 0; }
unsigned long long ranvier_cuda_memory_stat(int d, int which) {
  AllocatorStats s = allocator().stats(d);
  return which == 0 ? s.allocated : which == 1 ? s.peak_allocated : s.reserved;
}
void ranvier_cuda_reset_peak(int d) { allocator().reset_peak(d); }
unsigned long long ranvier_cuda_empty_cache() { return allocator().empty_cache(); }
}
