// CPU kernels of the indexing family.
namespace ranvier::cpu {

void register_indexing_cpu() {}

}  // namespace ranvier::cpu
