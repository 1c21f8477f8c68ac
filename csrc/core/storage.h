// Storage: a refcounted block of device memory shared by a tensor and all its views.
// It also carries the version counter that autograd uses to detect in-place changes of
// saved tensors (Note [Version counter]): every in-place write bumps it, views share it.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "core/device.h"

namespace ranvier {

// Device allocators, one slot per device type; the CUDA library fills its slot when loaded.
struct DeviceAllocator {
  void* (*allocate)(size_t nbytes, Device device) = nullptr;
  void (*release)(void* ptr, size_t nbytes, Device device) = nullptr;
};
DeviceAllocator& device_allocator(DeviceType t);

class Storage {
 public:
  using Deleter = void (*)(void* data, void* ctx);

  // Allocates nbytes on the device with that device's allocator.
  static std::shared_ptr<Storage> allocate(size_t nbytes, Device device);
  // Wraps memory owned by someone else (a NumPy array, a DLPack capsule): deleter(data, ctx)
  // runs when the last tensor using it goes away.
  static std::shared_ptr<Storage> wrap(void* data, size_t nbytes, Device device, Deleter deleter,
                                       void* ctx);

  Storage(void* data, size_t nbytes, Device device, Deleter deleter, void* ctx)
      : data_(data), nbytes_(nbytes), device_(device), deleter_(deleter), ctx_(ctx) {}
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  // Whether the memory came from the device's allocator (not wrapped from a NumPy array or a
  // DLPack capsule, whose owner may still see it).
  bool owns_memory() const { return deleter_ == nullptr; }
  Device device() const { return device_; }
  uint32_t version() const { return version_.load(std::memory_order_relaxed); }
  void bump_version() { version_.fetch_add(1, std::memory_order_relaxed); }

 private:
  void* data_;
  size_t nbytes_;
  Device device_;
  Deleter deleter_;
  void* ctx_;
  std::atomic<uint32_t> version_{0};
};

}  // namespace ranvier
