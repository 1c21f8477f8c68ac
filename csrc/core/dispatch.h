// Kernel slots. Each op family declares a table of function pointers per device type
// (KernelSlot<Fn>); a backend fills its entries from its register_<family>_<backend>()
// function. The CPU families register lazily: the first lookup that finds an empty slot runs
// ensure_kernels_registered() once and looks again. A slot still empty then raises
// NotImplementedError naming the op and device.
//
// Every slot is defined with its name (`KernelSlot<GemmKernel> gemm_kernel{"gemm"};`) and
// lists itself in the slot registry (kernel_slots(), a function-local static in dispatch.cpp,
// so the order in which the families' globals are constructed does not matter). The registry
// lets tools see every slot without knowing the families: `_C._kernel_slots()` reports which
// devices have a kernel in each, and the CUDA coverage test and the stand-in CUDA backend
// (csrc/cuda/test/fake_cuda_backend.cpp) check that none is forgotten.
#pragma once
#include <vector>

#include "core/device.h"
#include "core/error.h"

namespace ranvier {

void ensure_kernels_registered();  // kernels/cpu/register.cpp

// One registry entry: the slot's name, the slot itself (type-erased) and how to ask whether
// a device type has a kernel in it.
struct KernelSlotInfo {
  const char* name;
  const void* slot;
  bool (*has)(const void* slot, DeviceType t);
};
// Every KernelSlot constructed so far, in construction order (dispatch.cpp).
const std::vector<KernelSlotInfo>& kernel_slots();
void register_kernel_slot(const KernelSlotInfo& info);

template <typename Fn>
struct KernelSlot {
  using Function = Fn;
  Fn fn[kNumDeviceTypes] = {};
  const char* name;

  explicit KernelSlot(const char* slot_name) : name(slot_name) {
    register_kernel_slot({slot_name, this, &has_kernel});
  }
  KernelSlot(const KernelSlot&) = delete;
  KernelSlot& operator=(const KernelSlot&) = delete;

  Fn get(Device d, const char* op) const {
    Fn f = fn[int(d.type)];
    if (__builtin_expect(f != nullptr, 1)) return f;
    ensure_kernels_registered();  // first use: fill the CPU slots, then look again
    f = fn[int(d.type)];
    if (f == nullptr)
      throw_error(ErrorKind::NotImplemented,
                  str_cat(op, " has no ", d.is_cuda() ? "CUDA" : "CPU", " kernel"));
    return f;
  }
  void set(DeviceType t, Fn f) { fn[int(t)] = f; }

 private:
  static bool has_kernel(const void* slot, DeviceType t) {
    return static_cast<const KernelSlot*>(slot)->fn[int(t)] != nullptr;
  }
};

}  // namespace ranvier
