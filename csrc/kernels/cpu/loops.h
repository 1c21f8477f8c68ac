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
  // Rows of the last dim; between rows the pointers step through the outer dims like an
  // odometer (a carry subtracts a dim's extent), so a row costs no offset recomputation.
  parallel_for(0, s.numel, grain, [&](int64_t begin, int64_t end) {
    int64_t coord[kMaxDims];
    int64_t rem = begin;
    for (int d = nd - 1; d >= 0; --d) {
      coord[d] = rem % s.sizes[d];
      rem /= s.sizes[d];
    }
    char* rowp[kMaxOperands];  // the current row's first element (last coordinate 0)
    for (int k = 0; k < no; ++k) {
      int64_t off = 0;
      for (int d = 0; d < nd - 1; ++d) off += coord[d] * s.strides[k][d];
      rowp[k] = s.data[k] + off * esz[k];
    }
    const int64_t last = s.sizes[nd - 1];
    int64_t c = coord[nd - 1];
    int64_t idx = begin;
    char* ptrs[kMaxOperands];
    while (idx < end) {
      const int64_t n = last - c < end - idx ? last - c : end - idx;
      for (int k = 0; k < no; ++k) ptrs[k] = rowp[k] + c * inner[k] * esz[k];
      row(ptrs, inner, n);
      idx += n;
      c = 0;
      if (idx >= end) break;
      for (int d = nd - 2; d >= 0; --d) {
        for (int k = 0; k < no; ++k) rowp[k] += s.strides[k][d] * esz[k];
        if (++coord[d] < s.sizes[d]) break;
        coord[d] = 0;
        for (int k = 0; k < no; ++k) rowp[k] -= s.sizes[d] * s.strides[k][d] * esz[k];
      }
    }
  });
}

}  // namespace ranvier::cpu
