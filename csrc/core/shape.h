// Shape helpers: the Shape type, dim wrapping, contiguous strides, broadcasting and
// printing shapes the way PyTorch's messages do ([2, 3]).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace ranvier {

using Shape = std::vector<int64_t>;
constexpr int kMaxDims = 16;  // the elementwise engine's limit (checked where tensors are made)

std::string shape_str(const Shape& s);  // "[2, 3]"
int64_t shape_numel(const Shape& s);
Shape contiguous_strides(const Shape& sizes);
bool strides_are_contiguous(const Shape& sizes, const Shape& strides);
// Wraps a possibly negative dim into [0, ndim); IndexError naming op otherwise.
int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op);
// The broadcast shape of a and b; RuntimeError naming op if they do not broadcast.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);
// Checks that a size list has no negative entry and at most kMaxDims entries.
void check_shape(const Shape& s, const char* op);

}  // namespace ranvier
