// walk(): visits the row-major coordinates of a shape while keeping one element offset per
// operand (strided operands, no Tensor); shared by the indexing and sort kernels.
#pragma once
#include <cstdint>

#include "core/shape.h"

namespace ranvier::cpu {

// Walks the row-major coordinates [begin, end) of a shape, keeping one element offset per
// operand; f(off) is called once per element.
template <int N, typename F>
void walk(int ndim, const int64_t* sizes, const int64_t* const* strides, int64_t begin,
          int64_t end, const F& f) {
  int64_t coord[kMaxDims] = {};
  int64_t off[N] = {};
  int64_t rem = begin;
  for (int d = ndim - 1; d >= 0; --d) {
    coord[d] = sizes[d] ? rem % sizes[d] : 0;
    rem = sizes[d] ? rem / sizes[d] : 0;
    for (int k = 0; k < N; ++k) off[k] += coord[d] * strides[k][d];
  }
  for (int64_t i = begin; i < end; ++i) {
    f(off);
    for (int d = ndim - 1; d >= 0; --d) {
      if (++coord[d] < sizes[d]) {
        for (int k = 0; k < N; ++k) off[k] += strides[k][d];
        break;
      }
      for (int k = 0; k < N; ++k) off[k] -= (sizes[d] - 1) * strides[k][d];
      coord[d] = 0;
    }
  }
}

}  // namespace ranvier::cpu
