// The OpenMP elementwise engine: walks a LoopSpec in rows (the innermost dim), splitting the
// flat index range across threads above kGrainSize. row(ptrs, strides, n) gets one pointer per
// operand and the operands' innermost strides (in elements); every element is visited once,
// so results do not depend on the thread count.
#pragma once
#include <cstdint>

#include "core/parallel.h"
#include "kernels/common/loop_spec.h"

namespace ranvier::cpu {

template <typename Row>
void for_each_row(const LoopSpec& s, const Row& row, int64_t grain = kGrainSize) {
  const int nd = s.ndim;
  const int no = s.nops;
  int64_t esz[kMaxOperands];
  for (int k = 0; k < no; ++k) esz[k] = int64_t(element_size(s.dtypes[k]));
  int64_t inner[kMaxOperands];
  for (int k = 0; k < no; ++k) inner[k] = s.strides[k][nd - 1];
  if (nd == 1) {  // the common coalesced case: one row per chunk, no coordinate walk
    parallel_for(0, s.numel, grain, [&](int64_t begin, int64_t end) {
      char* ptrs[kMaxOperands];
      for (int k = 0; k < no; ++k) ptrs[k] = s.data[k] + begin * inner[k] * esz[k];
      row(ptrs, inner, end - begin);
    });
    return;
  }
  parallel_for(0, s.numel, grain, [&](int64_t begin, int64_t end) {
    int64_t coord[kMaxDims];
    int64_t rem = begin;
    for (int d = nd - 1; d >= 0; --d) {
      coord[d] = rem % s.sizes[d];
      rem /= s.sizes[d];
    }
    int64_t idx = begin;
    char* ptrs[kMaxOperands];
    while (idx < end) {
      for (int k = 0; k < no; ++k) {
        int64_t off = 0;
        for (int d = 0; d < nd; ++d) off += coord[d] * s.strides[k][d];
        ptrs[k] = s.data[k] + off * esz[k];
      }
      int64_t n = s.sizes[nd - 1] - coord[nd - 1];
      if (n > end - idx) n = end - idx;
      row(ptrs, inner, n);
      idx += n;
      coord[nd - 1] += n;
      for (int d = nd - 1; d > 0 && coord[d] >= s.sizes[d]; --d) {
        coord[d] = 0;
        coord[d - 1]++;
      }
    }
  });
}

}  // namespace ranvier::cpu
