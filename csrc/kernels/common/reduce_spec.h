// ReduceSpec and ScanSpec: what reduction and scan kernels see (no Tensor).
// A reduction writes one value per "outer" position (the kept dims, output contiguous); each
// output element reduces the input over the "inner" dims in row-major order of those dims.
// A scan walks one dim (the scan dim) for every position of the other dims.
//
// Note [Deterministic reductions]: results must be bitwise identical for any thread count.
// So the order in which values are combined never depends on how work is split over threads:
// every output element reduces its inner range in fixed blocks of kReduceBlock elements (each
// block accumulated left to right from the identity), and the block results are combined left
// to right. Threads may take whole outputs, or whole blocks of one output, never a range whose
// boundaries depend on the thread count. Scans are sequential along their dim; threads take
// whole lines.
#pragma once
#include <cstdint>

#include "core/dtype.h"
#include "core/shape.h"

namespace ranvier {

constexpr int64_t kReduceBlock = 16384;

// Max/Min also write the index of the winner when ReduceSpec::indices is set (and skip the
// values when out is null: argmax/argmin). Norm uses ReduceSpec::p.
enum class ReduceOp : int8_t { Sum, Prod, Max, Min, All, Any, Norm };

struct ReduceSpec {
  char* out = nullptr;  // contiguous, outer_numel elements of out_dtype (may be null for Max/Min)
  DType out_dtype = DType::Float32;
  int64_t* indices = nullptr;  // contiguous, outer_numel int64 (Max/Min only; may be null)
  const char* in = nullptr;
  DType in_dtype = DType::Float32;
  double p = 2.0;  // Norm: the order (inf and -inf allowed)
  int nouter = 0;
  int64_t outer_sizes[kMaxDims] = {};
  int64_t outer_strides[kMaxDims] = {};  // input strides of the kept dims
  int ninner = 0;
  int64_t inner_sizes[kMaxDims] = {};
  int64_t inner_strides[kMaxDims] = {};
  int64_t outer_numel = 1;
  int64_t inner_numel = 1;
};

enum class ScanOp : int8_t { Sum, Prod };

// A scan along one dim. Input and output share the iteration shape; each has its own strides.
// exclusive: element i combines elements before i only (identity at the start); reverse: the
// scan runs from the end of the dim to its start.
struct ScanSpec {
  ScanOp op = ScanOp::Sum;
  bool exclusive = false;
  bool reverse = false;
  char* out = nullptr;
  DType out_dtype = DType::Float32;
  const char* in = nullptr;
  DType in_dtype = DType::Float32;
  int64_t n = 0;           // length of the scan dim
  int64_t in_stride = 0;   // strides along the scan dim, in elements
  int64_t out_stride = 0;
  int nouter = 0;
  int64_t outer_sizes[kMaxDims] = {};
  int64_t in_outer_strides[kMaxDims] = {};
  int64_t out_outer_strides[kMaxDims] = {};
  int64_t outer_numel = 1;
};

// Gradient of cumprod without division (exact when the input has zeros): for one line x with
// incoming gradient g, grad_k = (prod_{j<k} x_j) * S_k with S_{n-1} = g_{n-1} and
// S_k = g_k + x_{k+1} * S_{k+1}. `in` is x, `grad` is g (same iteration shape, own strides),
// `out` receives the result; all three share one floating dtype.
struct CumprodGradSpec {
  ScanSpec scan;  // in = x, out = result
  const char* grad = nullptr;
  int64_t grad_stride = 0;
  int64_t grad_outer_strides[kMaxDims] = {};
};

}  // namespace ranvier
