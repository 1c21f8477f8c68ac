// View ops: results share storage with their input (view, reshape when possible, expand,
// permute, transpose, squeeze, unsqueeze, flatten, as_strided; slice/narrow/select and small
// helpers in ops/slice.cpp). Their backward is written with ops, so double backward works.
#pragma once
#include <vector>

#include "core/tensor.h"

namespace ranvier {

Tensor as_strided(const Tensor& t, const Shape& sizes, const Shape& strides, int64_t offset);
// A view geometry over a flat storage (element sizes, strides and offset).
struct StridedGeometry {
  Shape sizes, strides;
  int64_t offset = 0;
};
// Adds t into a zero storage through geometry `from` (elements sharing a slot add up) and reads
// it back through geometry `to` as a new contiguous tensor: the backward of as_strided; its
// own backward is restride with the geometries swapped (the adjoint).
Tensor restride(const Tensor& t, const StridedGeometry& from, const StridedGeometry& to);
// view: same data, new shape (one -1 allowed); RuntimeError if the strides do not allow it.
Tensor view(const Tensor& t, const Shape& sizes);
// reshape: a view when possible, otherwise a copy.
Tensor reshape(const Tensor& t, const Shape& sizes);
Tensor expand(const Tensor& t, const Shape& sizes);
Tensor permute(const Tensor& t, const std::vector<int64_t>& dims);
Tensor transpose(const Tensor& t, int64_t dim0, int64_t dim1);
Tensor t(const Tensor& x);  // 2-D transpose (0-D and 1-D unchanged)
Tensor squeeze(const Tensor& t);
Tensor squeeze(const Tensor& t, const std::vector<int64_t>& dims);
Tensor unsqueeze(const Tensor& t, int64_t dim);
Tensor flatten(const Tensor& t, int64_t start_dim = 0, int64_t end_dim = -1);

// Basic slicing views (ops/slice.cpp). slice: [start, end) with a positive step along dim
// (start/end already clamped by the caller or clamped here like Python slices).
Tensor slice(const Tensor& t, int64_t dim, int64_t start, int64_t end, int64_t step = 1);
// The gradient of slice: zeros of in_sizes with g written into the sliced region.
Tensor slice_backward(const Tensor& g, const Shape& in_sizes, int64_t dim, int64_t start,
                      int64_t end, int64_t step);
Tensor narrow(const Tensor& t, int64_t dim, int64_t start, int64_t length);
Tensor select(const Tensor& t, int64_t dim, int64_t index);
Tensor expand_as(const Tensor& t, const Tensor& other);
Tensor movedim(const Tensor& t, const std::vector<int64_t>& src, const std::vector<int64_t>& dst);
Tensor unflatten(const Tensor& t, int64_t dim, const Shape& sizes);
// Matrix transpose of the last two dims (Tensor.mT).
Tensor mT(const Tensor& t);

// Resolves one -1 in sizes against numel; RuntimeError naming op when impossible.
Shape infer_size(const Shape& sizes, int64_t numel, const char* op);

}  // namespace ranvier
