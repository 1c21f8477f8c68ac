// Flash-style scaled dot-product attention for float16 / bfloat16 on CUDA (flash_attention.cu):
// the scores never leave the chip. Used by the CUDA sdpa kernels (attention.cu) when it
// applies; the other 16-bit calls run the float32 kernels on float32 copies.
#pragma once
#include "ops/attention.h"

namespace ranvier::cuda {

// Whether the flash kernels take the call: float16 / bfloat16, no mask, one head dim
// E == Ev of 16, 32 or 64, at least one key, and 16-byte aligned operands.
bool flash_attention_applies(const AttnSpec& s);
// out = softmax(scale q k^T (causal: keys j <= i)) v, 16-bit; lse per row in float32.
void flash_attention_forward(const AttnSpec& s);
// gq, gk, gv (those not null), 16-bit, from grad, out and lse; every element written.
void flash_attention_backward(const AttnSpec& s);

}  // namespace ranvier::cuda
