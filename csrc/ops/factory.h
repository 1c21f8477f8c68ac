// Factories: tensors made from sizes and values (zeros, ones, full, arange, linspace, eye,
// the *_like forms, scalar tensors). Random factories live in ops/random.h.
#pragma once
#include "core/scalar.h"
#include "core/tensor.h"

namespace ranvier {

Tensor zeros(const Shape& sizes, DType dtype = DType::Float32, Device device = Device());
Tensor ones(const Shape& sizes, DType dtype = DType::Float32, Device device = Device());
Tensor full(const Shape& sizes, const Scalar& value, DType dtype, Device device = Device());
Tensor empty_like(const Tensor& t);
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor full_like(const Tensor& t, const Scalar& value);
// A 0-d tensor holding v; `wrapped` marks a Python number for type promotion.
Tensor scalar_tensor(const Scalar& v, DType dtype, Device device = Device(), bool wrapped = false);
// [start, end) in steps; the dtype follows PyTorch (int64 for integer arguments).
Tensor arange(const Scalar& start, const Scalar& end, const Scalar& step, DType dtype,
              Device device = Device());
Tensor linspace(double start, double end, int64_t steps, DType dtype, Device device = Device());
Tensor eye(int64_t n, int64_t m, DType dtype, Device device = Device());

}  // namespace ranvier
