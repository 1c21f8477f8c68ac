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

// Note [16-bit operands]: the elementwise kernels of some device types (CUDA: binary, unary,
// ternary, gelu) read float16 / bfloat16 operands and write float16 / bfloat16 outputs
// themselves, computing in float32 registers. For them the op layer passes such tensors as they
// are and allocates the output in its own dtype; for the others (CPU) it converts 16-bit
// operands to float32 tensors first and the float32 result back after.
bool converts_16bit(Device d);
void set_converts_16bit(DeviceType t, bool on);
// Whether the kernel on dev takes an operand of dtype t as it is when the op computes in ct:
// when t is ct, or when ct is float32 and t is float16 / bfloat16 on a device that converts.
bool kernel_takes(DType t, DType ct, Device dev);
// t as the kernel on dev sees it when the op computes in ct: t itself if the kernel takes its
// dtype, else a copy in ct.
Tensor kernel_operand(const Tensor& t, DType ct, Device dev);
// The dtype the kernel on dev writes for an op of result dtype rt computing in ct: rt where the
// device converts 16-bit outputs itself, else ct.
DType kernel_output_dtype(DType rt, DType ct, Device dev);

// Partial memory overlap between a written tensor and an input (same storage, different
// geometry): the input must be copied first.
bool overlaps_differently(const Tensor& written, const Tensor& input);

}  // namespace ranvier
