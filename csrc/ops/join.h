// Joining and splitting: cat/stack (and hstack/vstack) build a new tensor from several;
// split/chunk/tensor_split/unbind return views of one tensor, recorded as one autograd node
// with several outputs so that their backward is a single cat/stack.
#pragma once
#include <vector>

#include "core/tensor.h"

namespace ranvier {

// Concatenation along dim with type promotion across inputs; 1-D empty inputs are skipped.
Tensor cat(const std::vector<Tensor>& tensors, int64_t dim = 0);
Tensor stack(const std::vector<Tensor>& tensors, int64_t dim = 0);
Tensor hstack(const std::vector<Tensor>& tensors);
Tensor vstack(const std::vector<Tensor>& tensors);

// Views along dim of the given lengths (they must sum to the dim's size).
std::vector<Tensor> split_with_sizes(const Tensor& t, const std::vector<int64_t>& sizes,
                                     int64_t dim = 0);
// Views of split_size each along dim (the last may be smaller).
std::vector<Tensor> split(const Tensor& t, int64_t split_size, int64_t dim = 0);
std::vector<Tensor> chunk(const Tensor& t, int64_t chunks, int64_t dim = 0);
// tensor_split by a number of sections or by split indices.
std::vector<Tensor> tensor_split(const Tensor& t, int64_t sections, int64_t dim = 0);
std::vector<Tensor> tensor_split_indices(const Tensor& t, const std::vector<int64_t>& indices,
                                         int64_t dim = 0);
std::vector<Tensor> unbind(const Tensor& t, int64_t dim = 0);

}  // namespace ranvier
