// Pinned host memory (core/pinned.h): the allocator hook, and the set of live pinned blocks
// that is_pinned() consults.
#include "core/pinned.h"

#include <mutex>
#include <unordered_set>

#include "core/shape.h"
#include "core/storage.h"
#include "core/tensor_impl.h"
#include "ops/copy.h"

namespace ranvier {

namespace {
std::mutex g_mutex;
std::unordered_set<const void*>& live_blocks() {
  static auto* s = new std::unordered_set<const void*>();  // never destroyed
  return *s;
}
void release_pinned(void* data, void*) {
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    live_blocks().erase(data);
  }
  pinned_host_allocator().release(data);
}
}  // namespace

HostAllocator& pinned_host_allocator() {
  static HostAllocator a;
  return a;
}

bool is_pinned(const Tensor& t) {
  if (!t.device().is_cpu()) return false;
  const void* base = t.impl()->storage()->data();
  if (base == nullptr) return false;
  std::lock_guard<std::mutex> lock(g_mutex);
  return live_blocks().count(base) != 0;
}

Tensor pin_memory(const Tensor& t) {
  HostAllocator& a = pinned_host_allocator();
  RV_CHECK(a.allocate != nullptr,
           "pin_memory: pinned memory needs CUDA, which is not available (ranvier was built "
           "without CUDA or found no CUDA device)");
  RV_CHECK(t.device().is_cpu(), "pin_memory: cannot pin a ", t.device().str(),
           " tensor; only dense CPU tensors can be pinned");
  if (is_pinned(t)) return t;
  const size_t nbytes = size_t(t.numel()) * t.element_size();
  void* p = a.allocate(nbytes == 0 ? 1 : nbytes);
  RV_CHECK(p != nullptr, "pin_memory: could not allocate ", nbytes, " bytes of pinned memory");
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    live_blocks().insert(p);
  }
  auto storage = Storage::wrap(p, nbytes, Device(), &release_pinned, nullptr);
  Tensor out(std::make_shared<TensorImpl>(std::move(storage), t.sizes(),
                                          contiguous_strides(t.sizes()), 0, t.dtype()));
  copy_(out, detach(t));
  return out;
}

}  // namespace ranvier
