// Where the CPU attention kernels find a head's rows (kernels/cpu/attention.cpp and
// attention_small_avx2.cpp): AttnSpec's strided form, or contiguous [b, rows, cols] blocks.
#pragma once
#include <cstdint>

#include "ops/attention.h"

namespace ranvier::cpu {

// Where batch entry b of an operand starts (in elements).
inline int64_t attn_entry(const AttnSpec& p, const AttnStrides& st, int64_t b, int64_t block) {
  if (p.nbatch == 0) return b * block;
  int64_t off = 0;
  for (int d = p.nbatch - 1; d >= 0; --d) {
    off += (b % p.batch_sizes[d]) * st.bs[d];
    b /= p.batch_sizes[d];
  }
  return off;
}

// The operand's row stride.
inline int64_t attn_row_stride(const AttnSpec& p, const AttnStrides& st, int64_t cols) {
  return p.nbatch == 0 ? cols : st.rs;
}

}  // namespace ranvier::cpu
