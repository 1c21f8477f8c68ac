// Indexing ops: gather/scatter along a dim, index_select/index_add, masked_fill/masked_select,
// nonzero, take, and advanced indexing (index / index_put, the engine of Tensor.__getitem__ and
// __setitem__ with tensor indices). Index values are checked before anything is written.
#pragma once
#include <vector>

#include "core/dispatch.h"
#include "core/scalar.h"
#include "core/tensor.h"
#include "kernels/common/loop_spec.h"

namespace ranvier {

Tensor gather(const Tensor& self, int64_t dim, const Tensor& index);
Tensor scatter(const Tensor& self, int64_t dim, const Tensor& index, const Tensor& src);
Tensor scatter(const Tensor& self, int64_t dim, const Tensor& index, const Scalar& value);
Tensor scatter_add(const Tensor& self, int64_t dim, const Tensor& index, const Tensor& src);
Tensor& scatter_(Tensor& self, int64_t dim, const Tensor& index, const Tensor& src);
Tensor& scatter_(Tensor& self, int64_t dim, const Tensor& index, const Scalar& value);
Tensor& scatter_add_(Tensor& self, int64_t dim, const Tensor& index, const Tensor& src);

Tensor index_select(const Tensor& self, int64_t dim, const Tensor& index);
Tensor index_add(const Tensor& self, int64_t dim, const Tensor& index, const Tensor& source,
                 const Scalar& alpha = Scalar(int64_t(1)));
Tensor& index_add_(Tensor& self, int64_t dim, const Tensor& index, const Tensor& source,
                   const Scalar& alpha = Scalar(int64_t(1)));

Tensor masked_fill(const Tensor& self, const Tensor& mask, const Scalar& value);
// value: a 0-d tensor (differentiable).
Tensor masked_fill(const Tensor& self, const Tensor& mask, const Tensor& value);
Tensor& masked_fill_(Tensor& self, const Tensor& mask, const Scalar& value);
Tensor& masked_fill_(Tensor& self, const Tensor& mask, const Tensor& value);
Tensor masked_select(const Tensor& self, const Tensor& mask);

// [n, ndim] int64 coordinates of the non-zero elements, in row-major order.
Tensor nonzero(const Tensor& self);
std::vector<Tensor> nonzero_tuple(const Tensor& self);
Tensor take(const Tensor& self, const Tensor& index);

// Advanced indexing: indices[k] indexes dim k (undefined = the whole dim); integer tensors are
// broadcast together, bool/uint8 masks stand for their nonzero() coordinates. Follows NumPy's
// placement rule: adjacent index tensors put their dims in place, separated ones go first.
Tensor index(const Tensor& self, const std::vector<Tensor>& indices);
Tensor index_put(const Tensor& self, const std::vector<Tensor>& indices, const Tensor& values,
                 bool accumulate = false);
Tensor& index_put_(Tensor& self, const std::vector<Tensor>& indices, const Tensor& values,
                   bool accumulate = false);

// What indexing kernels see of a tensor (Principle 3: no Tensor).
struct StridedView {
  char* data = nullptr;
  DType dtype = DType::Float32;
  int ndim = 0;
  int64_t sizes[kMaxDims] = {};
  int64_t strides[kMaxDims] = {};
};
StridedView strided_view(const Tensor& t);

// Advanced-indexing kernel arguments. The result is laid out as [pre..., index grid, post...]
// (pre: the non-indexed dims before the indexed ones, empty when the index dims go first;
// post: the other non-indexed dims). Element (p, b, q) of the result is
// pre.data[pre_off(p) + offsets[b] + post_off(q)]; `flat` is that result, contiguous.
struct IndexArgs {
  StridedView pre;   // data: the indexed tensor's first element; sizes/strides of the pre dims
  StridedView post;  // sizes/strides of the post dims (data unused)
  const int64_t* offsets = nullptr;
  int64_t n_index = 0;
  char* flat = nullptr;
};

// gather: out[c] = self[c with c[dim] = index[c]] (out and index share a shape).
using GatherKernel = void (*)(const StridedView& out, const StridedView& self,
                              const StridedView& index, int dim);
// scatter: self[c with c[dim] = index[c]] = (or +=) src[c] (src.data null: the value).
using ScatterKernel = void (*)(const StridedView& self, const StridedView& index,
                               const StridedView& src, const Scalar& value, int dim,
                               bool accumulate);
using IndexGatherKernel = void (*)(const IndexArgs& a);
using IndexPutKernel = void (*)(const IndexArgs& a, bool accumulate);
// masked_fill: operand 0 out, 1 self, 2 mask (bool).
using MaskedFillKernel = void (*)(const LoopSpec& s, const Scalar& value);
using NonzeroCountKernel = int64_t (*)(const StridedView& t);
using NonzeroKernel = void (*)(const StridedView& t, int64_t* out);

extern KernelSlot<GatherKernel> gather_kernel;
extern KernelSlot<ScatterKernel> scatter_kernel;
extern KernelSlot<IndexGatherKernel> index_gather_kernel;
extern KernelSlot<IndexPutKernel> index_put_kernel;
extern KernelSlot<MaskedFillKernel> masked_fill_kernel;
extern KernelSlot<NonzeroCountKernel> nonzero_count_kernel;
extern KernelSlot<NonzeroKernel> nonzero_kernel;

}  // namespace ranvier
