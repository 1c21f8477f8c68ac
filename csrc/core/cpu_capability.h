// Which SIMD level the CPU kernels use (Note [CPU capability] in docs/design.md): the widest
// the CPU supports, or a lower one named by the environment variable RANVIER_CPU_CAPABILITY
// ("avx512", "avx2" or "default"; read once, when first asked), so that the AVX2 and portable
// copies of the kernels can be run and tested on an AVX-512 machine. A name the CPU cannot run
// falls back to the widest it can; an unknown name is ignored.
#pragma once

namespace ranvier {

enum class CpuCapability : int {
  Default = 0,  // baseline x86-64 (SSE2)
  Avx2 = 1,     // AVX2 + FMA
  Avx512 = 2,   // AVX-512 F, DQ, BW and VL
};

// The level in use (fixed for the life of the process).
CpuCapability cpu_capability();
// The widest level this CPU supports, whatever the environment asks.
CpuCapability cpu_capability_supported();
// "AVX512", "AVX2" or "DEFAULT" (the names of torch.backends.cpu.get_cpu_capability()).
const char* cpu_capability_name(CpuCapability c);

inline bool cpu_uses_avx512() { return cpu_capability() >= CpuCapability::Avx512; }
inline bool cpu_uses_avx2() { return cpu_capability() >= CpuCapability::Avx2; }

}  // namespace ranvier
