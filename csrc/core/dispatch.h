// Kernel slots. Each op family declares a table of function pointers per device type
// (KernelSlot<Fn>); a backend fills its entries from its register_<family>_<backend>()
// function. The CPU families register lazily: the first lookup that finds an empty slot runs
// ensure_kernels_registered() once and looks again. A slot still empty then raises
// NotImplementedError naming the op and device.
#pragma once
#include "core/device.h"
#include "core/error.h"

namespace ranvier {

void ensure_kernels_registered();  // kernels/cpu/register.cpp

template <typename Fn>
struct KernelSlot {
  Fn fn[kNumDeviceTypes] = {};
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
};


}  // namespace ranvier
