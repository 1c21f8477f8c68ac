// ReduceSpec: what a reduction kernel sees. The output is contiguous over the kept ("outer")
// dims; each output element reduces the input over the "inner" dims.
// Note [Deterministic reductions]: an inner range longer than kReduceBlock is split into
// fixed blocks whose partial results are combined in order, whatever the thread count.
#pragma once
#include <cstdint>

#include "core/dtype.h"
#include "core/shape.h"

namespace ranvier {

constexpr int64_t kReduceBlock = 16384;

enum class ReduceOp : int8_t { Sum, Prod, Max, Min, ArgMax, ArgMin, All, Any, Count };

struct ReduceSpec {
  char* out = nullptr;  // contiguous, outer_numel elements of out_dtype
  DType out_dtype = DType::Float32;
  const char* in = nullptr;
  DType in_dtype = DType::Float32;
  int nouter = 0;
  int64_t outer_sizes[kMaxDims] = {};
  int64_t outer_strides[kMaxDims] = {};  // input strides of the kept dims
  int ninner = 0;
  int64_t inner_sizes[kMaxDims] = {};
  int64_t inner_strides[kMaxDims] = {};
  int64_t outer_numel = 1;
  int64_t inner_numel = 1;
};

}  // namespace ranvier
