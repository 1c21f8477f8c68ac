// CPU kernels of the sort family.
namespace ranvier::cpu {

void register_sort_cpu() {}

}  // namespace ranvier::cpu
