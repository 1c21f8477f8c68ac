// Registers every CPU kernel family into its slots (Principle 2: one explicit call per family).
// The elementwise families pick the widest SIMD copy the CPU supports (cpu_features).
#include <mutex>

#include "core/dispatch.h"
#include "core/cpu_capability.h"
#include "kernels/cpu/simd/elementwise_kernels.h"
#include "ops/binary.h"
#include "ops/ternary.h"
#include "ops/unary.h"

namespace ranvier {
void init_blas();
namespace cpu {
void register_copy_cpu();
void register_reduce_cpu();
void register_matmul_cpu();
void register_indexing_cpu();
void register_sort_cpu();
void register_random_cpu();
void register_conv_cpu();
void register_pool_cpu();
void register_softmax_cpu();
void register_loss_cpu();
void register_norm_cpu();
void register_attention_cpu();
void register_upsample_cpu();
void register_ctc_cpu();
void register_rnn_cpu();
void register_activation_cpu();
void register_amp_cpu();

namespace simd0 { void register_optim(); }
namespace simd1 { void register_optim(); }
namespace simd2 { void register_optim(); }

int simd_level() {
  return static_cast<int>(cpu_capability());
}

// The optimizer steps' copy for the CPU's SIMD level (kernels/cpu/simd/optim.cpp).
void register_optim_cpu() {
  switch (simd_level()) {
    case 2: simd2::register_optim(); break;
    case 1: simd1::register_optim(); break;
    default: simd0::register_optim();
  }
}

void register_elementwise_cpu() {
  switch (simd_level()) {
    case 2:
      binary_kernel.set(DeviceType::CPU, &simd2::binary_kernel);
      unary_kernel.set(DeviceType::CPU, &simd2::unary_kernel);
      ternary_kernel.set(DeviceType::CPU, &simd2::ternary_kernel);
      break;
    case 1:
      binary_kernel.set(DeviceType::CPU, &simd1::binary_kernel);
      unary_kernel.set(DeviceType::CPU, &simd1::unary_kernel);
      ternary_kernel.set(DeviceType::CPU, &simd1::ternary_kernel);
      break;
    default:
      binary_kernel.set(DeviceType::CPU, &simd0::binary_kernel);
      unary_kernel.set(DeviceType::CPU, &simd0::unary_kernel);
      ternary_kernel.set(DeviceType::CPU, &simd0::ternary_kernel);
  }
}
}  // namespace cpu

void ensure_kernels_registered() {
  static std::once_flag once;
  std::call_once(once, [] {
    cpu::register_copy_cpu();
    cpu::register_elementwise_cpu();
    cpu::register_reduce_cpu();
    cpu::register_matmul_cpu();
    cpu::register_indexing_cpu();
    cpu::register_sort_cpu();
    cpu::register_random_cpu();
    cpu::register_conv_cpu();
    cpu::register_pool_cpu();
    cpu::register_softmax_cpu();
    cpu::register_loss_cpu();
    cpu::register_norm_cpu();
    cpu::register_attention_cpu();
    cpu::register_optim_cpu();
    cpu::register_upsample_cpu();
    cpu::register_ctc_cpu();
    cpu::register_rnn_cpu();
    cpu::register_activation_cpu();
    cpu::register_amp_cpu();
    init_blas();
  });
}

}  // namespace ranvier
