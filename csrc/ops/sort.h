// Sorting ops: sort, argsort, topk and unique. NaN sorts as the largest value (last when
// ascending, first when descending). The sort kernel is always stable, so `stable=False` gives
// the same answer as `stable=True`.
#pragma once
#include <tuple>

#include "core/dispatch.h"
#include "core/tensor.h"
#include "ops/indexing.h"

namespace ranvier {

// (values, indices) sorted along dim.
std::tuple<Tensor, Tensor> sort(const Tensor& self, int64_t dim = -1, bool descending = false,
                                bool stable = false);
Tensor argsort(const Tensor& self, int64_t dim = -1, bool descending = false, bool stable = false);
// The k largest (or smallest) entries along dim, in sorted order.
std::tuple<Tensor, Tensor> topk(const Tensor& self, int64_t k, int64_t dim = -1,
                                bool largest = true, bool sorted = true);
// Sorted unique values of the flattened input; inverse (input's shape) and counts when asked
// (undefined otherwise).
std::tuple<Tensor, Tensor, Tensor> unique(const Tensor& self, bool sorted = true,
                                          bool return_inverse = false, bool return_counts = false);

// Sorts every line of `in` along dim and writes the first k entries of each into values/indices
// (which have size k along dim).
using SortKernel = void (*)(const StridedView& values, const StridedView& indices,
                            const StridedView& in, int dim, bool descending, int64_t k);
// For n sorted elements (1-D view): writes each element's group id; returns the group count.
using UniqueGroupsKernel = int64_t (*)(const StridedView& sorted, int64_t* group);
extern KernelSlot<SortKernel> sort_kernel;
extern KernelSlot<UniqueGroupsKernel> unique_groups_kernel;

}  // namespace ranvier
