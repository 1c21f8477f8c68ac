// Fused scaled dot-product attention on [B, L, E] queries, [B, S, E] keys, [B, S, Ev] values:
// the forward walks key blocks with an online softmax (only one block of scores at a time) and
// saves the per-row logsumexp; the backward recomputes the scores block by block. Its own
// backward (double backward) raises NotImplementedError.
#pragma once
#include "core/dispatch.h"
#include "core/tensor.h"

namespace ranvier {

// mask: undefined, or an additive mask of q's dtype already expanded to [B, L, S] (any
// strides, e.g. 0 for broadcast dims); it receives no gradient. causal keeps keys j <= i.
Tensor scaled_dot_product_attention_fused(const Tensor& q, const Tensor& k, const Tensor& v,
                                          const Tensor& mask, double scale, bool causal);

// Strides of one operand of AttnSpec's strided form: batch entry (i_0, ..., i_{n-1}) starts at
// sum_d i_d * bs[d] elements, its rows are rs apart, its columns adjacent.
constexpr int kMaxAttnBatch = 4;
struct AttnStrides {
  int64_t bs[kMaxAttnBatch] = {};
  int64_t rs = 0;
};

struct AttnSpec {
  DType dtype;
  int64_t b = 0, l = 0, s = 0, e = 0, ev = 0;
  double scale = 1.0;
  bool causal = false;
  const void* q = nullptr;  // contiguous
  const void* k = nullptr;
  const void* v = nullptr;
  const void* mask = nullptr;  // or null; element (b, i, j) at b*mb + i*ml + j*ms
  int64_t mb = 0, ml = 0, ms = 0;
  void* out = nullptr;  // forward: written; backward: read
  void* lse = nullptr;  // [B, L] logsumexp per row (float32 for float16 / bfloat16 inputs)
  const void* grad = nullptr;  // backward: d out, contiguous
  void* gq = nullptr;  // or null; backward: every element written (the buffers come unset)
  void* gk = nullptr;
  void* gv = nullptr;
  // CPU only, or null: [B, L, S] contiguous probabilities. The forward writes every row's
  // probabilities over all S keys (zeros past those its row may see); the backward then reads
  // them instead of recomputing the scores.
  void* probs = nullptr;
  // The strided form (CPU only; elsewhere nbatch is 0 and every operand is contiguous as above).
  // With nbatch > 0 the b entries are the batch_sizes[0..nbatch) grid in row-major order and each
  // operand is read or written through its strides (lse stays contiguous [b, l]); the mask's
  // entry starts at its batch strides, its (i, j) at i * ml + j * ms from there (mb unused).
  int nbatch = 0;
  int64_t batch_sizes[kMaxAttnBatch] = {};
  AttnStrides sq, sk, sv, smask, sout, sgrad, sgq, sgk, sgv;
};
using AttnKernel = void (*)(const AttnSpec& s);
extern KernelSlot<AttnKernel> sdpa_forward_kernel;
extern KernelSlot<AttnKernel> sdpa_backward_kernel;

}  // namespace ranvier
