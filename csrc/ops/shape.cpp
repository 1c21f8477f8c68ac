// View ops (see shape.h).
#include "ops/shape.h"

#include <algorithm>

#include "autograd/function.h"
#include "ops/binary.h"
#include "ops/copy.h"
#include "ops/factory.h"
#include "ops/iter.h"
#include "ops/reduce.h"

namespace ranvier {

using autograd::BackwardContext;
using autograd::TensorList;

Shape infer_size(const Shape& sizes, int64_t numel, const char* op) {
  Shape out = sizes;
  int64_t known = 1;
  int infer = -1;
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (sizes[i] == -1) {
      RV_CHECK(infer < 0, op, ": only one dimension can be inferred");
      infer = int(i);
    } else {
      RV_CHECK(sizes[i] >= 0, op, ": invalid shape dimension ", sizes[i]);
      known *= sizes[i];
    }
  }
  if (infer >= 0) {
    RV_CHECK(known != 0 && numel % known == 0, op, ": shape '", shape_str(sizes),
             "' is invalid for input of size ", numel);
    out[infer] = numel / known;
  } else {
    RV_CHECK(known == numel, op, ": shape '", shape_str(sizes), "' is invalid for input of size ",
             numel);
  }
  return out;
}

namespace {
int64_t geometry_span(const StridedGeometry& g) {
  int64_t span = g.offset + 1;
  for (size_t i = 0; i < g.sizes.size(); ++i) {
    if (g.sizes[i] == 0) return g.offset + 1;
    span += (g.sizes[i] - 1) * g.strides[i];
  }
  return span;
}
}  // namespace

Tensor restride(const Tensor& t, const StridedGeometry& from, const StridedGeometry& to) {
  int64_t span = std::max(geometry_span(from), geometry_span(to));
  Tensor buf = empty({span}, t.dtype(), t.device());
  {
    // Elements that share a storage slot add up; summed serially in float64 so that overlaps
    // are exact and the result does not depend on the thread count.
    autograd::NoGradGuard ng;
    // (on the host: a CUDA tensor is copied over and the result copied back)
    Tensor c = contiguous_clone(to_dtype(to_device(detach(t), Device()), DType::Float64));
    Tensor acc = zeros({span}, DType::Float64, Device());
    double* a = acc.data<double>();
    const double* v = c.data<double>();
    int64_t n = c.numel(), nd = int64_t(from.sizes.size());
    std::vector<int64_t> coord(size_t(nd), 0);
    for (int64_t i = 0; i < n; ++i) {
      int64_t off = from.offset;
      for (int64_t d = 0; d < nd; ++d) off += coord[d] * from.strides[d];
      a[off] += v[i];
      for (int64_t d = nd - 1; d >= 0; --d) {
        if (++coord[d] < from.sizes[d]) break;
        coord[d] = 0;
      }
    }
    copy_(buf, acc);
  }
  Tensor out = contiguous_clone(make_view(buf, to.sizes, to.strides, to.offset));
  if (autograd::needs_grad({t})) {
    autograd::record("AsStridedBackwardBackward0", {t}, {&out}, {}, {},
                     [from, to](BackwardContext& c) {
                       return TensorList{restride(c.grad(), to, from)};
                     });
  }
  return out;
}

Tensor as_strided(const Tensor& x, const Shape& sizes, const Shape& strides, int64_t offset) {
  check_shape(sizes, "as_strided");
  RV_CHECK(sizes.size() == strides.size(), "as_strided: mismatch in length of strides and shape");
  int64_t extent = offset;
  bool empty_view = false;
  for (size_t i = 0; i < sizes.size(); ++i) {
    RV_CHECK(strides[i] >= 0, "as_strided: negative strides are not supported");
    if (sizes[i] == 0) empty_view = true;
    extent += (sizes[i] - 1) * strides[i];
  }
  int64_t capacity = int64_t(x.impl()->storage()->nbytes() / x.element_size());
  RV_CHECK(empty_view || extent < capacity || (sizes.empty() && offset < capacity), "as_strided: ",
           "setStorage: sizes ", shape_str(sizes), ", strides ", shape_str(strides),
           ", storage offset ", offset, " require a storage of ", extent + 1,
           " elements but the storage has ", capacity);
  Tensor out = make_view(x, sizes, strides, offset);
  if (autograd::needs_grad({x})) {
    StridedGeometry in{x.sizes(), x.strides(), x.storage_offset()};
    StridedGeometry view_geom{sizes, strides, offset};
    autograd::record("AsStridedBackward0", {x}, {&out}, {}, {},
                     [in, view_geom](BackwardContext& c) {
                       return TensorList{restride(c.grad(), view_geom, in)};
                     });
  }
  return out;
}

namespace {
// Strides for viewing (sizes, strides) as new_sizes without copying, or empty if impossible.
bool compute_view_strides(const Shape& sizes, const Shape& strides, const Shape& new_sizes,
                          Shape& out) {
  out.assign(new_sizes.size(), 0);
  int64_t numel = shape_numel(sizes);
  if (numel == 0 || sizes.empty()) {
    out = contiguous_strides(new_sizes);
    return true;
  }
  int64_t view_d = int64_t(new_sizes.size()) - 1;
  int64_t chunk_base_stride = strides.empty() ? 1 : strides.back();
  int64_t tensor_numel = 1, view_numel = 1;
  for (int64_t d = int64_t(sizes.size()) - 1; d >= 0; --d) {
    tensor_numel *= sizes[d];
    if (d == 0 || (sizes[d - 1] != 1 && strides[d - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || new_sizes[view_d] == 1)) {
        out[view_d] = view_numel * chunk_base_stride;
        view_numel *= new_sizes[view_d];
        view_d--;
      }
      if (view_numel != tensor_numel) return false;
      if (d > 0) {
        chunk_base_stride = strides[d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  return view_d == -1;
}

Tensor reshape_backward_view(const Tensor& x, Tensor out, const char* name) {
  if (autograd::needs_grad({x})) {
    Shape in_sizes = x.sizes();
    autograd::record(name, {x}, {&out}, {}, {}, [in_sizes](BackwardContext& c) {
      return TensorList{reshape(c.grad(), in_sizes)};
    });
  }
  return out;
}
}  // namespace

Tensor view(const Tensor& x, const Shape& sizes) {
  Shape ns = infer_size(sizes, x.numel(), "view");
  check_shape(ns, "view");
  Shape st;
  RV_CHECK(compute_view_strides(x.sizes(), x.strides(), ns, st),
           "view size is not compatible with input tensor's size and stride (at least one "
           "dimension spans across two contiguous subspaces): input of shape ",
           shape_str(x.sizes()), " with strides ", shape_str(x.strides()), " viewed as ",
           shape_str(ns), ". Use .reshape(...) instead.");
  return reshape_backward_view(x, make_view(x, ns, st, x.storage_offset()), "ViewBackward0");
}

Tensor reshape(const Tensor& x, const Shape& sizes) {
  Shape ns = infer_size(sizes, x.numel(), "reshape");
  check_shape(ns, "reshape");
  Shape st;
  if (compute_view_strides(x.sizes(), x.strides(), ns, st))
    return reshape_backward_view(x, make_view(x, ns, st, x.storage_offset()), "ViewBackward0");
  return view(clone(x), ns);
}

Tensor expand(const Tensor& x, const Shape& sizes) {
  RV_CHECK(sizes.size() >= size_t(x.dim()), "expand: the number of sizes provided (",
           sizes.size(), ") must be greater or equal to the number of dimensions in the tensor (",
           x.dim(), ")");
  check_shape(Shape(sizes.size(), 0), "expand");
  Shape ns(sizes.size()), st(sizes.size());
  int64_t lead = int64_t(sizes.size()) - x.dim();
  for (int64_t i = int64_t(sizes.size()) - 1; i >= 0; --i) {
    int64_t xi = i - lead;
    int64_t want = sizes[i];
    if (xi >= 0) {
      int64_t have = x.sizes()[xi];
      if (want == -1) want = have;
      RV_CHECK(have == want || have == 1, "expand: the expanded size of the tensor (", want,
               ") must match the existing size (", have, ") at non-singleton dimension ", i,
               ".  Target sizes: ", shape_str(sizes), ".  Tensor sizes: ", shape_str(x.sizes()));
      ns[i] = want;
      st[i] = have == want ? x.strides()[xi] : 0;
    } else {
      RV_CHECK(want >= 0, "expand: the expanded size of the tensor (", want,
               ") isn't allowed in a leading, non-existing dimension ", i);
      ns[i] = want;
      st[i] = 0;
    }
  }
  Tensor out = make_view(x, ns, st, x.storage_offset());
  if (autograd::needs_grad({x})) {
    Shape in_sizes = x.sizes();
    autograd::record("ExpandBackward0", {x}, {&out}, {}, {}, [in_sizes](BackwardContext& c) {
      return TensorList{sum_to_size(c.grad(), in_sizes)};
    });
  }
  return out;
}

Tensor permute(const Tensor& x, const std::vector<int64_t>& dims) {
  int64_t nd = x.dim();
  RV_CHECK(int64_t(dims.size()) == nd, "permute(sparse_coo): number of dimensions in the tensor "
           "input does not match the length of the desired ordering of dimensions i.e. input.dim() = ",
           nd, " is not equal to len(dims) = ", dims.size());
  Shape ns(nd), st(nd);
  std::vector<int64_t> inv(nd);
  std::vector<bool> seen(nd, false);
  for (int64_t i = 0; i < nd; ++i) {
    int64_t d = wrap_dim(dims[i], nd, "permute");
    RV_CHECK(!seen[d], "permute: duplicate dims are not allowed.");
    seen[d] = true;
    ns[i] = x.sizes()[d];
    st[i] = x.strides()[d];
    inv[d] = i;
  }
  Tensor out = make_view(x, ns, st, x.storage_offset());
  if (autograd::needs_grad({x})) {
    autograd::record("PermuteBackward0", {x}, {&out}, {}, {}, [inv](BackwardContext& c) {
      return TensorList{permute(c.grad(), inv)};
    });
  }
  return out;
}

Tensor transpose(const Tensor& x, int64_t d0, int64_t d1) {
  int64_t nd = x.dim();
  if (nd == 0) {
    wrap_dim(d0, nd, "transpose");
    wrap_dim(d1, nd, "transpose");
    return view(x, x.sizes());
  }
  d0 = wrap_dim(d0, nd, "transpose");
  d1 = wrap_dim(d1, nd, "transpose");
  std::vector<int64_t> p(nd);
  for (int64_t i = 0; i < nd; ++i) p[i] = i;
  std::swap(p[d0], p[d1]);
  return permute(x, p);
}

Tensor t(const Tensor& x) {
  RV_CHECK(x.dim() <= 2, "t() expects a tensor with <= 2 dimensions, but self is ", x.dim(), "D");
  return x.dim() < 2 ? view(x, x.sizes()) : transpose(x, 0, 1);
}

Tensor squeeze(const Tensor& x) {
  Shape ns;
  for (int64_t s : x.sizes())
    if (s != 1) ns.push_back(s);
  return reshape(x, ns);
}

Tensor squeeze(const Tensor& x, const std::vector<int64_t>& dims) {
  std::vector<bool> drop(x.dim(), false);
  for (int64_t d : dims) {
    int64_t w = wrap_dim(d, x.dim(), "squeeze");
    if (x.dim() > 0 && x.sizes()[w] == 1) drop[w] = true;
  }
  Shape ns;
  for (int64_t i = 0; i < x.dim(); ++i)
    if (!drop[i]) ns.push_back(x.sizes()[i]);
  return reshape(x, ns);
}

Tensor unsqueeze(const Tensor& x, int64_t dim) {
  dim = wrap_dim(dim, x.dim() + 1, "unsqueeze");
  Shape ns = x.sizes();
  ns.insert(ns.begin() + dim, 1);
  return reshape(x, ns);
}

Tensor flatten(const Tensor& x, int64_t start_dim, int64_t end_dim) {
  if (x.dim() == 0) return reshape(x, {1});
  start_dim = wrap_dim(start_dim, x.dim(), "flatten");
  end_dim = wrap_dim(end_dim, x.dim(), "flatten");
  RV_CHECK(start_dim <= end_dim, "flatten() has invalid args: start_dim cannot come after end_dim");
  Shape ns;
  for (int64_t i = 0; i < start_dim; ++i) ns.push_back(x.sizes()[i]);
  int64_t m = 1;
  for (int64_t i = start_dim; i <= end_dim; ++i) m *= x.sizes()[i];
  ns.push_back(m);
  for (int64_t i = end_dim + 1; i < x.dim(); ++i) ns.push_back(x.sizes()[i]);
  return reshape(x, ns);
}

}  // namespace ranvier
