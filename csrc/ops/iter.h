// Building LoopSpecs for elementwise kernels, and the type-promotion helpers shared by the
// elementwise op families.
#pragma once
#include <vector>

#include "core/tensor.h"
#include "kernels/common/loop_spec.h"

namespace ranvier {

// A LoopSpec over out (operand 0) and the inputs, each input broadcast to out's shape.
// Dims of size 1 are dropped and dims that are contiguous for every operand are merged.
LoopSpec make_loop(const Tensor& out, std::initializer_list<const Tensor*> inputs);

// PyTorch's result_type over tensors: dim>0 tensors, then 0-d tensors, then wrapped numbers
// (Python scalars), each group counting only when it is of a higher category.
DType result_type(std::initializer_list<const Tensor*> tensors);
// Whether a value of dtype `from` may be written into a tensor of dtype `to` by an in-place op.
bool can_cast(DType from, DType to);
// All tensors on one device; RuntimeError naming op and both devices otherwise.
void check_same_device(const char* op, std::initializer_list<const Tensor*> tensors);

// Partial memory overlap between a written tensor and an input (same storage, different
// geometry): the input must be copied first.
bool overlaps_differently(const Tensor& written, const Tensor& input);

}  // namespace ranvier
