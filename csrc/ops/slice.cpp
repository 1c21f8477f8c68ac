// Slicing views: slice, narrow, select and their differentiable backward (slice_backward),
// plus small view helpers built on permute/reshape (movedim, unflatten, expand_as, mT).
// Convention: every result shares storage with its input; backward is written with ops.
#include <algorithm>

#include "autograd/function.h"
#include "ops/copy.h"
#include "ops/factory.h"
#include "ops/shape.h"

namespace ranvier {

using autograd::BackwardContext;
using autograd::TensorList;

Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step) {
  RV_CHECK_INDEX(x.dim() > 0, "slice() cannot be applied to a 0-dim tensor.");
  dim = wrap_dim(dim, x.dim(), "slice");
  RV_CHECK_VALUE(step > 0, "slice step must be positive");
  int64_t n = x.sizes()[dim];
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::min(std::max<int64_t>(start, 0), n);
  end = std::min(std::max(end, start), n);
  int64_t len = (end - start + step - 1) / step;
  Shape ns = x.sizes(), st = x.strides();
  ns[dim] = len;
  st[dim] *= step;
  Tensor out = make_view(x, ns, st, x.storage_offset() + start * x.strides()[dim]);
  if (autograd::needs_grad({x})) {
    Shape in_sizes = x.sizes();
    autograd::record("SliceBackward0", {x}, {&out}, {}, {},
                     [in_sizes, dim, start, end, step](BackwardContext& c) {
                       return TensorList{slice_backward(c.grad(), in_sizes, dim, start, end, step)};
                     });
  }
  return out;
}

Tensor slice_backward(const Tensor& g, const Shape& in_sizes, int64_t dim, int64_t start,
                      int64_t end, int64_t step) {
  Tensor out = zeros(in_sizes, g.dtype(), g.device());
  {
    autograd::NoGradGuard ng;
    Tensor region = slice(out, dim, start, end, step);
    Tensor gd = detach(g);
    copy_(region, gd);
  }
  if (autograd::needs_grad({g})) {
    autograd::record("SliceBackwardBackward0", {g}, {&out}, {}, {},
                     [dim, start, end, step](BackwardContext& c) {
                       return TensorList{slice(c.grad(), dim, start, end, step)};
                     });
  }
  return out;
}

Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length) {
  RV_CHECK_INDEX(x.dim() > 0, "narrow() cannot be applied to a 0-dim tensor.");
  dim = wrap_dim(dim, x.dim(), "narrow");
  int64_t n = x.sizes()[dim];
  RV_CHECK_INDEX(start >= -n && start <= n, "narrow(): start (", start,
                 ") out of range (expected to be in range of [", -n, ", ", n, "])");
  if (start < 0) start += n;
  RV_CHECK(length >= 0 && start + length <= n, "narrow(): start (", start, ") + length (",
           length, ") exceeds dimension size (", n, ").");
  return slice(x, dim, start, start + length, 1);
}

Tensor select(const Tensor& x, int64_t dim, int64_t index) {
  RV_CHECK_INDEX(x.dim() > 0, "select() cannot be applied to a 0-dim tensor.");
  dim = wrap_dim(dim, x.dim(), "select");
  int64_t n = x.sizes()[dim];
  RV_CHECK_INDEX(index >= -n && index < n, "select(): index ", index,
                 " out of range for tensor of size ", shape_str(x.sizes()), " at dimension ", dim);
  if (index < 0) index += n;
  Shape ns = x.sizes(), st = x.strides();
  ns.erase(ns.begin() + dim);
  st.erase(st.begin() + dim);
  Tensor out = make_view(x, ns, st, x.storage_offset() + index * x.strides()[dim]);
  if (autograd::needs_grad({x})) {
    Shape in_sizes = x.sizes();
    autograd::record("SelectBackward0", {x}, {&out}, {}, {},
                     [in_sizes, dim, index](BackwardContext& c) {
                       return TensorList{slice_backward(unsqueeze(c.grad(), dim), in_sizes, dim,
                                                        index, index + 1, 1)};
                     });
  }
  return out;
}

Tensor expand_as(const Tensor& x, const Tensor& other) { return expand(x, other.sizes()); }

Tensor movedim(const Tensor& x, const std::vector<int64_t>& src, const std::vector<int64_t>& dst) {
  RV_CHECK(src.size() == dst.size(), "movedim: Invalid source or destination dims: source (",
           shape_str(src), " dims) should contain the same number of dims as destination (",
           shape_str(dst), " dims)");
  int64_t nd = x.dim();
  if (nd == 0) {
    for (size_t i = 0; i < src.size(); ++i) {
      wrap_dim(src[i], 0, "movedim");
      wrap_dim(dst[i], 0, "movedim");
    }
    return view(x, x.sizes());
  }
  std::vector<int64_t> perm(nd, -1);
  std::vector<bool> used_src(nd, false), used_dst(nd, false);
  for (size_t i = 0; i < src.size(); ++i) {
    int64_t s = wrap_dim(src[i], nd, "movedim"), d = wrap_dim(dst[i], nd, "movedim");
    RV_CHECK(!used_src[s], "movedim: repeated dim in `source` (", shape_str(src), ")");
    RV_CHECK(!used_dst[d], "movedim: repeated dim in `destination` (", shape_str(dst), ")");
    used_src[s] = used_dst[d] = true;
    perm[d] = s;
  }
  int64_t next = 0;
  for (int64_t d = 0; d < nd; ++d) {
    if (perm[d] >= 0) continue;
    while (used_src[next]) ++next;
    perm[d] = next++;
  }
  return permute(x, perm);
}

Tensor unflatten(const Tensor& x, int64_t dim, const Shape& sizes) {
  RV_CHECK_INDEX(x.dim() > 0, "unflatten: cannot unflatten a 0-dimensional tensor");
  dim = wrap_dim(dim, x.dim(), "unflatten");
  RV_CHECK(!sizes.empty(), "unflatten: sizes must be non-empty");
  Shape inner = infer_size(sizes, x.sizes()[dim], "unflatten");
  Shape ns(x.sizes().begin(), x.sizes().begin() + dim);
  ns.insert(ns.end(), inner.begin(), inner.end());
  ns.insert(ns.end(), x.sizes().begin() + dim + 1, x.sizes().end());
  return view(x, ns);
}

Tensor mT(const Tensor& x) {
  RV_CHECK(x.dim() >= 2, "tensor.mT is only supported on matrices or batches of matrices. Got ",
           x.dim(), "-D tensor.");
  return transpose(x, -2, -1);
}

}  // namespace ranvier
