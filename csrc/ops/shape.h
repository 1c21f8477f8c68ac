// View ops: results share storage with their input (view, reshape when possible, expand,
// permute, transpose, squeeze, unsqueeze, flatten, as_strided). Their backward is written
// with ops, so double backward works.
#pragma once
#include <vector>

#include "core/tensor.h"

namespace ranvier {

Tensor as_strided(const Tensor& t, const Shape& sizes, const Shape& strides, int64_t offset);
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

// Resolves one -1 in sizes against numel; RuntimeError naming op when impossible.
Shape infer_size(const Shape& sizes, int64_t numel, const char* op);

}  // namespace ranvier
