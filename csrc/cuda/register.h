// The CUDA library's registration functions, one per family (Principle 2), called once by
// ranvier_cuda_init() in register.cpp.
#pragma once

namespace ranvier::cuda {

void register_allocator_cuda();
void register_copy_cuda();
void register_elementwise_cuda();
void register_gemm_cuda();
void register_conv_cuda();
void register_attention_cuda();
void register_rnn_cuda();
void register_ctc_cuda();

}  // namespace ranvier::cuda
