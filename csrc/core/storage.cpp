// Storage allocation and the CPU allocator (64-byte aligned).
#include "core/storage.h"

#include "core/cpu_allocator.h"
#include "core/error.h"

namespace ranvier {

namespace {
void* cpu_allocate(size_t nbytes, Device) {
  if (nbytes == 0) return nullptr;
  // Small blocks come from malloc (16-byte aligned, fast); larger ones are 64-byte aligned
  // for whole-cache-line SIMD access, and the large ones are cached (Note [CPU block cache]).
  void* p = cpu_alloc::allocate(nbytes);
  RV_CHECK(p != nullptr, "CPU out of memory: tried to allocate ", nbytes, " bytes");
  return p;
}
void cpu_release(void* p, size_t nbytes, Device) { cpu_alloc::release(p, nbytes); }

DeviceAllocator g_allocators[kNumDeviceTypes] = {{&cpu_allocate, &cpu_release}, {}};
}  // namespace

DeviceAllocator& device_allocator(DeviceType t) { return g_allocators[int(t)]; }

std::shared_ptr<Storage> Storage::allocate(size_t nbytes, Device device) {
  DeviceAllocator& a = g_allocators[int(device.type)];
  RV_CHECK(a.allocate != nullptr, "cannot allocate on ", device.str(),
           ": ranvier was built without CUDA or found no CUDA device "
           "(ranvier.cuda.is_available() is False)");
  void* p = a.allocate(nbytes, device);
  return std::make_shared<Storage>(p, nbytes, device, nullptr, nullptr);
}

std::shared_ptr<Storage> Storage::wrap(void* data, size_t nbytes, Device device, Deleter deleter,
                                       void* ctx) {
  return std::make_shared<Storage>(data, nbytes, device, deleter, ctx);
}

Storage::~Storage() {
  if (deleter_) {
    deleter_(data_, ctx_);
  } else if (data_) {
    g_allocators[int(device_.type)].release(data_, nbytes_, device_);
  }
}

}  // namespace ranvier
