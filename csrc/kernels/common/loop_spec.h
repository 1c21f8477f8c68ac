// LoopSpec: what an elementwise kernel sees (Principle 3: no Tensor). Operand 0 is the output,
// the rest are inputs; all share one iteration shape, each has its own element strides (0
// where it is broadcast). ops/iter.cpp builds it with dims coalesced, innermost dim last.
#pragma once
#include <cstdint>

#include "core/dtype.h"
#include "core/shape.h"

namespace ranvier {

constexpr int kMaxOperands = 4;

struct LoopSpec {
  int ndim = 0;  // >= 1 after coalescing (a 0-d iteration becomes [1])
  int nops = 0;
  int64_t numel = 0;
  int64_t sizes[kMaxDims] = {};
  char* data[kMaxOperands] = {};
  int64_t strides[kMaxOperands][kMaxDims] = {};  // in elements of the operand's dtype
  DType dtypes[kMaxOperands] = {};
};

}  // namespace ranvier
