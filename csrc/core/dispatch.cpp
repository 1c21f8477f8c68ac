// The kernel slot registry (Note in core/dispatch.h): every KernelSlot adds itself here when
// it is constructed. A function-local static, so that it exists before the first slot of any
// translation unit is built, whatever order the globals are constructed in.
#include "core/dispatch.h"

namespace ranvier {

namespace {
std::vector<KernelSlotInfo>& registry() {
  static std::vector<KernelSlotInfo>* r = new std::vector<KernelSlotInfo>();  // never destroyed
  return *r;
}
}  // namespace

const std::vector<KernelSlotInfo>& kernel_slots() { return registry(); }

void register_kernel_slot(const KernelSlotInfo& info) { registry().push_back(info); }

}  // namespace ranvier
