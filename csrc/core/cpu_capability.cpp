#include "core/cpu_capability.h"

#include <cstdlib>
#include <strings.h>

namespace ranvier {

CpuCapability cpu_capability_supported() {
  static const CpuCapability best = [] {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("fma"))
      return CpuCapability::Avx512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
      return CpuCapability::Avx2;
    return CpuCapability::Default;
  }();
  return best;
}

namespace {

CpuCapability requested(CpuCapability best) {
  const char* v = std::getenv("RANVIER_CPU_CAPABILITY");
  if (v == nullptr) return best;
  CpuCapability want = best;
  if (strcasecmp(v, "avx512") == 0) want = CpuCapability::Avx512;
  else if (strcasecmp(v, "avx2") == 0) want = CpuCapability::Avx2;
  else if (strcasecmp(v, "default") == 0) want = CpuCapability::Default;
  return static_cast<int>(want) < static_cast<int>(best) ? want : best;
}

}  // namespace

CpuCapability cpu_capability() {
  static const CpuCapability level = requested(cpu_capability_supported());
  return level;
}

const char* cpu_capability_name(CpuCapability c) {
  switch (c) {
    case CpuCapability::Avx512: return "AVX512";
    case CpuCapability::Avx2: return "AVX2";
    default: return "DEFAULT";
  }
}

}  // namespace ranvier
