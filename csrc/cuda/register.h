// The CUDA library's registration functions, one per family (Principle 2), called once by
// ranvier_cuda_init() in register.cpp.
#pragma once

namespace ranvier::cuda {

void register_allocator_cuda();
void register_copy_cuda();
void register_elementwise_cuda();
void register_gelu_cuda();
void register_reduce_cuda();
void register_scan_cuda();
void register_softmax_cuda();
void register_loss_cuda();
void register_norm_cuda();
void register_random_cuda();
void register_optim_cuda();
void register_indexing_cuda();
void register_pool_cuda();
void register_upsample_cuda();
void register_sort_cuda();
void register_gemm_cuda();
void register_conv_cuda();
void register_attention_cuda();
void register_rnn_cuda();
void register_ctc_cuda();
void register_amp_cuda();

}  // namespace ranvier::cuda
