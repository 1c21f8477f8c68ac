// CPU kernels of the matmul family.
namespace ranvier::cpu {

void register_matmul_cpu() {}

}  // namespace ranvier::cpu
