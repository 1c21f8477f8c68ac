// cat/stack and the split family (see join.h). cat copies each input into a narrow view of the
// output (the copy kernel does the dtype conversion); its backward narrows the gradient.
// The split family makes raw views and records one node whose backward cats the gradients
// (missing ones are zero-filled by the node).
#include "ops/join.h"

#include "autograd/function.h"
#include "ops/copy.h"
#include "ops/factory.h"
#include "ops/iter.h"
#include "ops/shape.h"

namespace ranvier {

using autograd::BackwardContext;
using autograd::TensorList;

namespace {
bool skipped_in_cat(const Tensor& t) { return t.dim() == 1 && t.sizes()[0] == 0; }
}  // namespace

Tensor cat(const std::vector<Tensor>& tensors, int64_t dim) {
  RV_CHECK(!tensors.empty(), "torch.cat(): expected a non-empty list of Tensors");
  // The reference tensor: the first that is not a skipped empty 1-D tensor.
  int ref = -1;
  for (size_t i = 0; i < tensors.size(); ++i) {
    RV_CHECK(tensors[i].dim() > 0, "torch.cat(): zero-dimensional tensor (at position ", i,
             ") cannot be concatenated");
    if (ref < 0 && !skipped_in_cat(tensors[i])) ref = int(i);
  }
  DType dt = tensors[0].dtype();
  for (size_t i = 1; i < tensors.size(); ++i) dt = promote_types(dt, tensors[i].dtype());
  for (size_t i = 1; i < tensors.size(); ++i)
    RV_CHECK(tensors[i].device() == tensors[0].device(),
             "torch.cat(): all input tensors must be on the same device. Received ",
             tensors[0].device().str(), " and ", tensors[i].device().str());
  if (ref < 0) {
    // Every input is an empty 1-D tensor.
    wrap_dim(dim, 1, "cat");
    return empty({0}, dt, tensors[0].device());
  }
  const Tensor& r = tensors[ref];
  dim = wrap_dim(dim, r.dim(), "cat");
  Shape out_sizes = r.sizes();
  int64_t total = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    if (skipped_in_cat(t)) continue;
    RV_CHECK(t.dim() == r.dim(), "Tensors must have same number of dimensions: got ", r.dim(),
             " and ", t.dim(), " (shapes ", shape_str(r.sizes()), " and ", shape_str(t.sizes()),
             ")");
    for (int64_t d = 0; d < r.dim(); ++d)
      RV_CHECK(d == dim || t.sizes()[d] == r.sizes()[d], "Sizes of tensors must match except in "
               "dimension ", dim, ". Expected size ", r.sizes()[d], " but got size ",
               t.sizes()[d], " for tensor number ", i, " in the list (shapes ",
               shape_str(r.sizes()), " and ", shape_str(t.sizes()), ")");
    total += t.sizes()[dim];
  }
  out_sizes[dim] = total;
  Tensor out = empty(out_sizes, dt, r.device());
  std::vector<int64_t> lengths(tensors.size(), 0);
  {
    autograd::NoGradGuard ng;
    int64_t off = 0;
    for (size_t i = 0; i < tensors.size(); ++i) {
      if (skipped_in_cat(tensors[i])) continue;
      int64_t len = tensors[i].sizes()[dim];
      lengths[i] = len;
      Tensor region = slice(out, dim, off, off + len, 1);
      copy_(region, detach(tensors[i]));
      off += len;
    }
  }
  if (autograd::needs_grad(tensors)) {
    std::vector<DType> dtypes;
    std::vector<bool> skipped;
    for (const Tensor& t : tensors) {
      dtypes.push_back(t.dtype());
      skipped.push_back(skipped_in_cat(t));
    }
    autograd::record("CatBackward0", tensors, {&out}, {}, {},
                     [dim, lengths, dtypes, skipped](BackwardContext& c) {
                       TensorList g(lengths.size());
                       int64_t off = 0;
                       for (size_t i = 0; i < lengths.size(); ++i) {
                         if (c.needs(i)) {
                           if (skipped[i])
                             g[i] = zeros({0}, dtypes[i], c.grad().device());
                           else
                             g[i] = to_dtype(slice(c.grad(), dim, off, off + lengths[i], 1),
                                             dtypes[i]);
                         }
                         off += lengths[i];
                       }
                       return g;
                     });
  }
  return out;
}

Tensor stack(const std::vector<Tensor>& tensors, int64_t dim) {
  RV_CHECK(!tensors.empty(), "stack expects a non-empty TensorList");
  dim = wrap_dim(dim, tensors[0].dim() + 1, "stack");
  for (size_t i = 1; i < tensors.size(); ++i)
    RV_CHECK(tensors[i].sizes() == tensors[0].sizes(),
             "stack expects each tensor to be equal size, but got ", shape_str(tensors[0].sizes()),
             " at entry 0 and ", shape_str(tensors[i].sizes()), " at entry ", i);
  std::vector<Tensor> parts;
  parts.reserve(tensors.size());
  for (const Tensor& t : tensors) parts.push_back(unsqueeze(t, dim));
  return cat(parts, dim);
}

Tensor hstack(const std::vector<Tensor>& tensors) {
  RV_CHECK(!tensors.empty(), "hstack expects a non-empty TensorList");
  std::vector<Tensor> parts;
  for (const Tensor& t : tensors) parts.push_back(t.dim() == 0 ? reshape(t, {1}) : t);
  return cat(parts, parts[0].dim() == 1 ? 0 : 1);
}

Tensor vstack(const std::vector<Tensor>& tensors) {
  RV_CHECK(!tensors.empty(), "vstack expects a non-empty TensorList");
  std::vector<Tensor> parts;
  for (const Tensor& t : tensors) parts.push_back(t.dim() < 2 ? reshape(t, {1, -1}) : t);
  return cat(parts, 0);
}

namespace {
// The gradients of a split's pieces when they already lie side by side as the pieces of one
// contiguous tensor of in_sizes (as attention's backward lays out the gradients of q, k and v
// split from one projection): that tensor as a view, else undefined.
Tensor adjacent_pieces(const std::vector<Tensor>& gs, int64_t dim, const Shape& in_sizes) {
  const Tensor& g0 = gs[0];
  if (autograd::GradMode::is_enabled() || !g0.defined()) return Tensor();
  int64_t off = g0.storage_offset();
  for (const Tensor& g : gs) {
    if (!g.defined() || g.impl()->storage() != g0.impl()->storage() ||
        g.strides() != g0.strides() || g.dtype() != g0.dtype() || g.storage_offset() != off)
      return Tensor();
    off += g.sizes()[size_t(dim)] * g.strides()[size_t(dim)];
  }
  Tensor whole = make_view(g0, in_sizes, g0.strides(), g0.storage_offset());
  return whole.is_contiguous() ? whole : Tensor();
}

// Raw views (no history) of x along dim at the given [start, start+len) pieces, recorded as
// one node whose backward cats the pieces' gradients (or returns their whole when they are
// adjacent).
std::vector<Tensor> split_views(const Tensor& x, int64_t dim, const std::vector<int64_t>& starts,
                                const std::vector<int64_t>& lens, const char* name) {
  std::vector<Tensor> outs;
  outs.reserve(lens.size());
  for (size_t i = 0; i < lens.size(); ++i) {
    Shape ns = x.sizes();
    ns[dim] = lens[i];
    outs.push_back(make_view(x, ns, x.strides(), x.storage_offset() + starts[i] * x.strides()[dim]));
  }
  if (autograd::needs_grad({x}) && !outs.empty()) {
    std::vector<Tensor*> ptrs;
    for (Tensor& o : outs) ptrs.push_back(&o);
    Shape in_sizes = x.sizes();
    autograd::record(name, {x}, ptrs, {}, {}, [dim, in_sizes](BackwardContext& c) {
      std::vector<Tensor> gs;
      for (size_t i = 0; i < c.num_grads(); ++i) gs.push_back(c.grad(i));
      if (gs.size() == 1) return TensorList{reshape(gs[0], in_sizes)};
      Tensor whole = adjacent_pieces(gs, dim, in_sizes);
      return TensorList{whole.defined() ? whole : cat(gs, dim)};
    });
  }
  return outs;
}
}  // namespace

std::vector<Tensor> split_with_sizes(const Tensor& x, const std::vector<int64_t>& sizes,
                                     int64_t dim) {
  RV_CHECK(x.dim() > 0, "split expects at least a 1-dimensional tensor");
  dim = wrap_dim(dim, x.dim(), "split_with_sizes");
  int64_t n = x.sizes()[dim], sum = 0;
  std::vector<int64_t> starts;
  for (int64_t s : sizes) {
    RV_CHECK(s >= 0, "split_with_sizes expects split_sizes have only non-negative entries, but "
             "got split_sizes=", shape_str(sizes));
    starts.push_back(sum);
    sum += s;
  }
  RV_CHECK(sum == n, "split_with_sizes expects split_sizes to sum exactly to ", n,
           " (input tensor's size at dimension ", dim, "), but got split_sizes=",
           shape_str(sizes));
  return split_views(x, dim, starts, sizes, "SplitWithSizesBackward0");
}

std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t dim) {
  RV_CHECK(x.dim() > 0, "split expects at least a 1-dimensional tensor");
  dim = wrap_dim(dim, x.dim(), "split");
  RV_CHECK(split_size >= 0, "split expects split_size be non-negative, but got split_size=",
           split_size);
  int64_t n = x.sizes()[dim];
  RV_CHECK(split_size > 0 || n == 0, "split_size can only be 0 if dimension size is 0, but got "
           "dimension size of ", n);
  std::vector<int64_t> starts, lens;
  if (n == 0) {
    starts.push_back(0);
    lens.push_back(0);
  }
  for (int64_t s = 0; s < n; s += split_size) {
    starts.push_back(s);
    lens.push_back(std::min(split_size, n - s));
  }
  return split_views(x, dim, starts, lens, "SplitBackward0");
}

std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim) {
  RV_CHECK(x.dim() > 0, "chunk expects at least a 1-dimensional tensor");
  RV_CHECK(chunks > 0, "chunk expects `chunks` to be greater than 0, got: ", chunks);
  dim = wrap_dim(dim, x.dim(), "chunk");
  int64_t n = x.sizes()[dim];
  int64_t size = (n + chunks - 1) / chunks;
  if (size == 0 && n == 0) {
    std::vector<int64_t> starts(chunks, 0), lens(chunks, 0);
    return split_views(x, dim, starts, lens, "SplitBackward0");
  }
  return split(x, size, dim);
}

std::vector<Tensor> tensor_split(const Tensor& x, int64_t sections, int64_t dim) {
  RV_CHECK(x.dim() > 0, "tensor_split expected at least a 1-dimensional tensor, but got a "
           "tensor with 0 dims");
  RV_CHECK(sections > 0, "number of sections must be larger than 0, got ", sections);
  dim = wrap_dim(dim, x.dim(), "tensor_split");
  int64_t n = x.sizes()[dim];
  std::vector<int64_t> starts, lens;
  int64_t base = n / sections, extra = n % sections, off = 0;
  for (int64_t i = 0; i < sections; ++i) {
    int64_t len = base + (i < extra ? 1 : 0);
    starts.push_back(off);
    lens.push_back(len);
    off += len;
  }
  return split_views(x, dim, starts, lens, "TensorSplitBackward0");
}

std::vector<Tensor> tensor_split_indices(const Tensor& x, const std::vector<int64_t>& indices,
                                         int64_t dim) {
  RV_CHECK(x.dim() > 0, "tensor_split expected at least a 1-dimensional tensor, but got a "
           "tensor with 0 dims");
  dim = wrap_dim(dim, x.dim(), "tensor_split");
  int64_t n = x.sizes()[dim];
  std::vector<int64_t> starts, lens;
  int64_t prev = 0;
  for (size_t i = 0; i <= indices.size(); ++i) {
    int64_t e = i < indices.size() ? indices[i] : n;
    if (e < 0) e += n;
    e = std::min(std::max<int64_t>(e, 0), n);
    starts.push_back(prev);
    lens.push_back(std::max<int64_t>(e - prev, 0));
    prev = e;
  }
  return split_views(x, dim, starts, lens, "TensorSplitBackward0");
}

std::vector<Tensor> unbind(const Tensor& x, int64_t dim) {
  RV_CHECK_INDEX(x.dim() > 0, "unbind: dimension specified as 0 but tensor has no dimensions");
  dim = wrap_dim(dim, x.dim(), "unbind");
  int64_t n = x.sizes()[dim];
  std::vector<Tensor> outs;
  Shape ns = x.sizes(), st = x.strides();
  ns.erase(ns.begin() + dim);
  st.erase(st.begin() + dim);
  for (int64_t i = 0; i < n; ++i)
    outs.push_back(make_view(x, ns, st, x.storage_offset() + i * x.strides()[dim]));
  if (autograd::needs_grad({x}) && n > 0) {
    std::vector<Tensor*> ptrs;
    for (Tensor& o : outs) ptrs.push_back(&o);
    autograd::record("UnbindBackward0", {x}, ptrs, {}, {}, [dim](BackwardContext& c) {
      std::vector<Tensor> gs;
      for (size_t i = 0; i < c.num_grads(); ++i) gs.push_back(c.grad(i));
      return TensorList{stack(gs, dim)};
    });
  }
  return outs;
}

}  // namespace ranvier
