// Reductions over one, several or all dims (dim as a list; empty = all), with keepdim.
#pragma once
#include <vector>

#include "core/dispatch.h"
#include "core/tensor.h"
#include "kernels/common/reduce_spec.h"

namespace ranvier {

// Sum; integer and bool inputs sum in int64 like PyTorch.
Tensor sum(const Tensor& t, const std::vector<int64_t>& dims = {}, bool keepdim = false);

// Builds the ReduceSpec of t over dims (wrapped, deduplicated) into the contiguous out.
ReduceSpec make_reduce_spec(const Tensor& t, const std::vector<bool>& reduced, const Tensor& out);
// Which dims of t are reduced (all when dims is empty); IndexError naming op on a bad dim.
std::vector<bool> reduced_dims(const Tensor& t, const std::vector<int64_t>& dims, const char* op);
// Output shape for a reduction.
Shape reduced_shape(const Tensor& t, const std::vector<bool>& reduced, bool keepdim);
// Re-inserts reduced dims as size 1 (so a keepdim=false gradient broadcasts back).
Tensor unsqueeze_reduced(const Tensor& g, const std::vector<bool>& reduced, bool keepdim);

using ReduceKernel = void (*)(ReduceOp op, const ReduceSpec& s);
extern KernelSlot<ReduceKernel> reduce_kernel;

}  // namespace ranvier
