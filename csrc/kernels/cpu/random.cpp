// CPU kernels of the random family.
namespace ranvier::cpu {

void register_random_cpu() {}

}  // namespace ranvier::cpu
