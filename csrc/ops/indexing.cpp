// Indexing ops (see indexing.h). Index tensors are turned into contiguous int64 and every value
// is range-checked on the host before a kernel writes anything (IndexError names the op, the
// index and the size). Backward pairs: gather <-> scatter_add, index <-> index_put(accumulate),
// masked_fill -> masked_fill with 0; index_select/index_add/masked_select/take reuse index and
// index_put, so their double backward comes for free.
#include "ops/indexing.h"

#include "autograd/function.h"
#include "autograd/inplace.h"
#include "ops/binary.h"
#include "ops/copy.h"
#include "ops/factory.h"
#include "ops/iter.h"
#include "ops/reduce.h"
#include "ops/shape.h"

namespace ranvier {

using autograd::BackwardContext;
using autograd::TensorList;

KernelSlot<GatherKernel> gather_kernel{"gather"};
KernelSlot<ScatterKernel> scatter_kernel{"scatter"};
KernelSlot<IndexGatherKernel> index_gather_kernel{"index_gather"};
KernelSlot<IndexPutKernel> index_put_kernel{"index_put"};
KernelSlot<MaskedFillKernel> masked_fill_kernel{"masked_fill"};
KernelSlot<NonzeroCountKernel> nonzero_count_kernel{"nonzero_count"};
KernelSlot<NonzeroKernel> nonzero_kernel{"nonzero"};

StridedView strided_view(const Tensor& t) {
  StridedView v;
  v.data = static_cast<char*>(t.data_ptr());
  v.dtype = t.dtype();
  v.ndim = int(t.dim());
  for (int64_t d = 0; d < t.dim(); ++d) {
    v.sizes[d] = t.sizes()[d];
    v.strides[d] = t.strides()[d];
  }
  return v;
}

namespace {

// A contiguous int64 copy of an index tensor (int64 or int32; others raise, naming op).
Tensor long_index(const Tensor& idx, const char* op, bool as_index_error) {
  RV_CHECK_KIND(as_index_error ? ErrorKind::Index : ErrorKind::Runtime,
                idx.dtype() == DType::Int64 || idx.dtype() == DType::Int32, op,
                "(): Expected dtype int32/int64 for index, but got ", dtype_name(idx.dtype()));
  Tensor d = detach(idx);
  if (d.dtype() != DType::Int64) return to_dtype(d, DType::Int64);
  return d.is_contiguous() ? d : contiguous_clone(d);
}

// Raises IndexError when an index value is outside [0, size) (or [-size, size) with wrap).
// A CUDA index is copied to the host for the check.
void check_range(const Tensor& idx64, int64_t size, int64_t dim, const char* op, bool wrap) {
  Tensor host = idx64.device().is_cpu() ? idx64 : to_device(idx64, Device());
  const int64_t* p = host.data<int64_t>();
  int64_t lo = wrap ? -size : 0;
  for (int64_t i = 0; i < idx64.numel(); ++i)
    RV_CHECK_INDEX(p[i] >= lo && p[i] < size, op, ": index ", p[i],
                   " is out of bounds for dimension ", dim, " with size ", size);
}

}  // namespace

// ---------------------------------------------------------------- gather / scatter

Tensor gather(const Tensor& self, int64_t dim, const Tensor& index) {
  Tensor s = self.dim() == 0 ? reshape(self, {1}) : self;
  Tensor ix = index.dim() == 0 ? reshape(detach(index), {1}) : index;
  dim = wrap_dim(dim, s.dim(), "gather");
  Tensor idx = long_index(ix, "gather", false);
  RV_CHECK(idx.dim() == s.dim() || idx.numel() == 0, "gather(): Index tensor must have the same "
           "number of dimensions as input tensor (index ", shape_str(index.sizes()), ", input ",
           shape_str(self.sizes()), ")");
  if (idx.dim() == s.dim())
    for (int64_t d = 0; d < s.dim(); ++d)
      RV_CHECK(d == dim || idx.sizes()[d] <= s.sizes()[d], "gather(): Size does not match at "
               "dimension ", d, " expected index ", shape_str(index.sizes()),
               " to be no larger than self ", shape_str(self.sizes()), " apart from dimension ",
               dim);
  check_range(idx, s.sizes()[dim], dim, "gather", false);
  Tensor out = empty(idx.sizes(), self.dtype(), self.device());
  if (out.numel() > 0)
    gather_kernel.get(self.device(), "gather")(strided_view(out), strided_view(s),
                                               strided_view(idx), int(dim));
  if (self.dim() == 0 && index.dim() == 0) out = reshape(detach(out), {});
  if (autograd::needs_grad({self})) {
    Shape in_sizes = self.sizes();
    Tensor saved_idx = index;
    autograd::record("GatherBackward0", {self}, {&out}, {}, {},
                     [in_sizes, dim, saved_idx](BackwardContext& c) {
                       Tensor z = zeros(in_sizes, c.grad().dtype(), c.grad().device());
                       return TensorList{scatter_add(z, dim, saved_idx, c.grad())};
                     });
  }
  return out;
}

namespace {

// Checks the scatter family's arguments and returns the int64 index.
Tensor scatter_checks(const Tensor& self, int64_t& dim, const Tensor& index, const Tensor* src,
                      const char* op) {
  RV_CHECK(self.dim() > 0, op, "(): 0-dimensional self is not supported; reshape it to [1]");
  dim = wrap_dim(dim, self.dim(), op);
  Tensor idx = long_index(index, op, false);
  if (idx.numel() == 0) return idx;
  RV_CHECK(idx.dim() == self.dim(), op, "(): Index tensor must have the same number of "
           "dimensions as self tensor (index ", shape_str(index.sizes()), ", self ",
           shape_str(self.sizes()), ")");
  if (src) {
    RV_CHECK(src->dtype() == self.dtype(), op, "(): Expected self.dtype to be equal to src.dtype ",
             "(got ", dtype_name(self.dtype()), " and ", dtype_name(src->dtype()), ")");
    RV_CHECK(src->dim() == self.dim(), op, "(): Index tensor must have the same number of "
             "dimensions as src tensor (index ", shape_str(index.sizes()), ", src ",
             shape_str(src->sizes()), ")");
  }
  for (int64_t d = 0; d < self.dim(); ++d) {
    RV_CHECK(d == dim || idx.sizes()[d] <= self.sizes()[d], op, "(): Expected index ",
             shape_str(index.sizes()), " to be no larger than self ", shape_str(self.sizes()),
             " apart from dimension ", dim);
    if (src)
      RV_CHECK(idx.sizes()[d] <= src->sizes()[d], op, "(): Expected index ",
               shape_str(index.sizes()), " to be no larger than src ", shape_str(src->sizes()));
  }
  check_range(idx, self.sizes()[dim], dim, op, false);
  return idx;
}

// Writes into target (no autograd, no version bump).
void scatter_raw(const Tensor& target, int64_t dim, const Tensor& idx, const Tensor* src,
                 const Scalar& value, bool accumulate, const char* op) {
  if (idx.numel() == 0) return;
  StridedView sv;
  Tensor s;
  if (src) {
    s = detach(*src);
    if (s.impl()->storage() == target.impl()->storage()) s = contiguous_clone(s);
    sv = strided_view(s);
  }
  scatter_kernel.get(target.device(), op)(strided_view(target), strided_view(idx), sv, value,
                                          int(dim), accumulate);
}

Tensor scatter_out(const Tensor& self, int64_t dim, const Tensor& index, const Tensor* src,
                   const Scalar& value, bool accumulate, const char* op, const char* node) {
  Tensor idx = scatter_checks(self, dim, index, src, op);
  Tensor out = contiguous_clone(self);
  scatter_raw(out, dim, idx, src, value, accumulate, op);
  bool has_src = src != nullptr;
  std::vector<Tensor> inputs{self};
  if (has_src) inputs.push_back(*src);
  if (autograd::needs_grad(inputs)) {
    Tensor saved_idx = index;
    autograd::record(node, inputs, {&out}, {}, {},
                     [dim, saved_idx, accumulate, has_src](BackwardContext& c) {
                       TensorList g(has_src ? 2 : 1);
                       if (c.needs(0))
                         g[0] = accumulate ? c.grad() : scatter(c.grad(), dim, saved_idx, Scalar(0.0));
                       if (has_src && c.needs(1)) g[1] = gather(c.grad(), dim, saved_idx);
                       return g;
                     });
  }
  return out;
}

}  // namespace

Tensor scatter(const Tensor& self, int64_t dim, const Tensor& index, const Tensor& src) {
  return scatter_out(self, dim, index, &src, Scalar(), false, "scatter", "ScatterBackward0");
}

Tensor scatter(const Tensor& self, int64_t dim, const Tensor& index, const Scalar& value) {
  return scatter_out(self, dim, index, nullptr, value, false, "scatter", "ScatterBackward1");
}

Tensor scatter_add(const Tensor& self, int64_t dim, const Tensor& index, const Tensor& src) {
  return scatter_out(self, dim, index, &src, Scalar(), true, "scatter_add",
                     "ScatterAddBackward0");
}

Tensor& scatter_(Tensor& self, int64_t dim, const Tensor& index, const Tensor& src) {
  if (autograd::inplace_needs_grad(self, {src}, "scatter_"))
    return autograd::record_inplace(self, "scatter_",
                                    [&](const Tensor& s) { return scatter(s, dim, index, src); });
  Tensor idx = scatter_checks(self, dim, index, &src, "scatter_");
  scatter_raw(self, dim, idx, &src, Scalar(), false, "scatter_");
  self.bump_version();
  return self;
}

Tensor& scatter_(Tensor& self, int64_t dim, const Tensor& index, const Scalar& value) {
  if (autograd::inplace_needs_grad(self, {}, "scatter_"))
    return autograd::record_inplace(self, "scatter_",
                                    [&](const Tensor& s) { return scatter(s, dim, index, value); });
  Tensor idx = scatter_checks(self, dim, index, nullptr, "scatter_");
  scatter_raw(self, dim, idx, nullptr, value, false, "scatter_");
  self.bump_version();
  return self;
}

Tensor& scatter_add_(Tensor& self, int64_t dim, const Tensor& index, const Tensor& src) {
  if (autograd::inplace_needs_grad(self, {src}, "scatter_add_"))
    return autograd::record_inplace(
        self, "scatter_add_", [&](const Tensor& s) { return scatter_add(s, dim, index, src); });
  Tensor idx = scatter_checks(self, dim, index, &src, "scatter_add_");
  scatter_raw(self, dim, idx, &src, Scalar(), true, "scatter_add_");
  self.bump_version();
  return self;
}

// ---------------------------------------------------------------- advanced indexing

namespace {

// One int64 index tensor per dim of self (undefined = not indexed); masks become their
// nonzero() columns. Raises IndexError for bad dtypes, mask shapes and too many indices.
std::vector<Tensor> expand_indices(const Tensor& self, const std::vector<Tensor>& indices,
                                   const char* op) {
  std::vector<Tensor> out;
  for (const Tensor& t : indices) {
    if (!t.defined()) {
      out.push_back(Tensor());
      continue;
    }
    if (t.dtype() == DType::Bool || t.dtype() == DType::UInt8) {
      int64_t p = int64_t(out.size());
      RV_CHECK_NOT_IMPLEMENTED(t.dim() > 0, op, ": 0-dimensional bool index tensors are only "
                               "supported through Tensor.__getitem__/__setitem__");
      RV_CHECK_INDEX(p + t.dim() <= self.dim(), op, ": too many indices for tensor of dimension ",
                     self.dim());
      for (int64_t j = 0; j < t.dim(); ++j)
        RV_CHECK_INDEX(t.sizes()[j] == self.sizes()[p + j], op, ": The shape of the mask ",
                       shape_str(t.sizes()), " at index ", j,
                       " does not match the shape of the indexed tensor ",
                       shape_str(self.sizes()), " at index ", p + j);
      Tensor nz = nonzero(detach(t));
      for (int64_t j = 0; j < t.dim(); ++j) out.push_back(contiguous_clone(select(nz, 1, j)));
    } else {
      RV_CHECK_INDEX(t.dtype() == DType::Int64 || t.dtype() == DType::Int32, op,
                     ": tensors used as indices must be long, int, byte or bool tensors (got ",
                     dtype_name(t.dtype()), ")");
      out.push_back(long_index(t, op, true));
    }
  }
  RV_CHECK_INDEX(int64_t(out.size()) <= self.dim(), op, ": too many indices for tensor of "
                 "dimension ", self.dim());
  out.resize(size_t(self.dim()));
  return out;
}

struct IndexPlan {
  Tensor offsets;               // int64 [n_index]: element offsets of the index grid
  Shape bshape;                 // broadcast shape of the index tensors
  int64_t first = 0;            // where the index dims go in the result
  Shape pre_sizes, pre_strides;   // non-indexed dims before `first`
  Shape post_sizes, post_strides; // the other non-indexed dims
  Shape result;                 // [pre..., bshape..., post...]
};

IndexPlan make_plan(const Tensor& self, const std::vector<Tensor>& idx, const char* op) {
  IndexPlan p;
  std::vector<int64_t> dims;
  for (int64_t d = 0; d < self.dim(); ++d)
    if (idx[d].defined()) dims.push_back(d);
  bool started = false;
  for (const int64_t d : dims) {
    if (!started) {
      p.bshape = idx[d].sizes();
      started = true;
      continue;
    }
    try {
      p.bshape = broadcast_shapes(p.bshape, idx[d].sizes(), op);
    } catch (const Error&) {
      std::string all;
      for (int64_t e : dims) all += (all.empty() ? "" : ", ") + shape_str(idx[e].sizes());
      throw_error(ErrorKind::Index, str_cat(op, ": shape mismatch: indexing tensors could not be "
                                            "broadcast together with shapes ", all));
    }
  }
  bool adjacent = dims.back() - dims.front() + 1 == int64_t(dims.size());
  p.first = adjacent ? dims.front() : 0;
  int64_t nb = shape_numel(p.bshape);
  // The offsets are computed on the host (from host copies of CUDA indices), then moved.
  Tensor offsets = zeros({nb}, DType::Int64, Device());
  int64_t* off = offsets.data<int64_t>();
  for (int64_t d : dims) {
    Tensor e = contiguous_clone(expand(to_device(idx[d], Device()), p.bshape));
    const int64_t* v = e.data<int64_t>();
    int64_t size = self.sizes()[d], stride = self.strides()[d];
    for (int64_t i = 0; i < nb; ++i) {
      int64_t x = v[i];
      RV_CHECK_INDEX(x >= -size && x < size, op, ": index ", x, " is out of bounds for dimension ",
                     d, " with size ", size);
      off[i] += (x < 0 ? x + size : x) * stride;
    }
  }
  p.offsets = to_device(offsets, self.device());
  for (int64_t d = 0; d < self.dim(); ++d) {
    if (idx[d].defined()) continue;
    bool pre = d < p.first;
    (pre ? p.pre_sizes : p.post_sizes).push_back(self.sizes()[d]);
    (pre ? p.pre_strides : p.post_strides).push_back(self.strides()[d]);
  }
  p.result = p.pre_sizes;
  p.result.insert(p.result.end(), p.bshape.begin(), p.bshape.end());
  p.result.insert(p.result.end(), p.post_sizes.begin(), p.post_sizes.end());
  check_shape(p.result, op);
  return p;
}

IndexArgs index_args(const Tensor& target, const IndexPlan& p, const Tensor& flat) {
  IndexArgs a;
  a.pre.data = static_cast<char*>(target.data_ptr());
  a.pre.dtype = target.dtype();
  a.pre.ndim = int(p.pre_sizes.size());
  for (size_t i = 0; i < p.pre_sizes.size(); ++i) {
    a.pre.sizes[i] = p.pre_sizes[i];
    a.pre.strides[i] = p.pre_strides[i];
  }
  a.post.dtype = target.dtype();
  a.post.ndim = int(p.post_sizes.size());
  for (size_t i = 0; i < p.post_sizes.size(); ++i) {
    a.post.sizes[i] = p.post_sizes[i];
    a.post.strides[i] = p.post_strides[i];
  }
  a.offsets = p.offsets.data<int64_t>();
  a.n_index = p.offsets.numel();
  a.flat = static_cast<char*>(flat.data_ptr());
  return a;
}

bool any_defined(const std::vector<Tensor>& v) {
  for (const Tensor& t : v)
    if (t.defined()) return true;
  return false;
}

// Writes values into target at the (expanded) indices: no autograd, no version bump.
void index_put_raw(const Tensor& target, const std::vector<Tensor>& idx, const Tensor& values,
                   bool accumulate, const char* op) {
  IndexPlan p = make_plan(target, idx, op);
  autograd::NoGradGuard ng;
  Tensor v = to_dtype(detach(values), target.dtype());
  Shape b;
  bool ok = true;
  try {
    b = broadcast_shapes(v.sizes(), p.result, op);
  } catch (const Error&) {
    ok = false;
  }
  RV_CHECK(ok && b == p.result, op, ": shape mismatch: value tensor of shape ",
           shape_str(values.sizes()), " cannot be broadcast to indexing result of shape ",
           shape_str(p.result));
  Tensor ve = expand(v, p.result);
  // A copy when the values are not one dense block or their memory overlaps the target's.
  const Storage& vs = *ve.impl()->storage();
  const Storage& ts = *target.impl()->storage();
  const auto v0 = reinterpret_cast<uintptr_t>(vs.data());
  const auto t0 = reinterpret_cast<uintptr_t>(ts.data());
  const bool apart = v0 + vs.nbytes() <= t0 || t0 + ts.nbytes() <= v0;
  Tensor flat = ve.is_contiguous() && apart ? ve : contiguous_clone(ve);
  if (flat.numel() == 0) return;
  index_put_kernel.get(target.device(), op)(index_args(target, p, flat), accumulate);
}

Tensor index_impl(const Tensor& self, const std::vector<Tensor>& idx, const char* op) {
  IndexPlan p = make_plan(self, idx, op);
  Tensor out = empty(p.result, self.dtype(), self.device());
  if (out.numel() > 0) index_gather_kernel.get(self.device(), op)(index_args(self, p, out));
  if (autograd::needs_grad({self})) {
    Shape in_sizes = self.sizes();
    autograd::record("IndexBackward0", {self}, {&out}, {}, {}, [in_sizes, idx](BackwardContext& c) {
      Tensor z = zeros(in_sizes, c.grad().dtype(), c.grad().device());
      return TensorList{index_put(z, idx, c.grad(), true)};
    });
  }
  return out;
}

}  // namespace

Tensor index(const Tensor& self, const std::vector<Tensor>& indices) {
  std::vector<Tensor> idx = expand_indices(self, indices, "index");
  if (!any_defined(idx)) return self;
  return index_impl(self, idx, "index");
}

Tensor index_put(const Tensor& self, const std::vector<Tensor>& indices, const Tensor& values,
                 bool accumulate) {
  std::vector<Tensor> idx = expand_indices(self, indices, "index_put");
  RV_CHECK(any_defined(idx), "index_put: expected at least one index tensor");
  Tensor out = contiguous_clone(self);
  index_put_raw(out, idx, values, accumulate, "index_put");
  if (autograd::needs_grad({self, values})) {
    Shape vsizes = values.sizes();
    DType vdt = values.dtype();
    autograd::record("IndexPutBackward0", {self, values}, {&out}, {}, {},
                     [idx, accumulate, vsizes, vdt](BackwardContext& c) {
                       TensorList g(2);
                       const Tensor& go = c.grad();
                       if (c.needs(0))
                         g[0] = accumulate ? go
                                           : index_put(go, idx, zeros({}, go.dtype(), go.device()),
                                                       false);
                       if (c.needs(1))
                         g[1] = to_dtype(sum_to_size(index(go, idx), vsizes), vdt);
                       return g;
                     });
  }
  return out;
}

Tensor& index_put_(Tensor& self, const std::vector<Tensor>& indices, const Tensor& values,
                   bool accumulate) {
  if (autograd::inplace_needs_grad(self, {values}, "index_put_"))
    return autograd::record_inplace(self, "index_put_", [&](const Tensor& s) {
      return index_put(s, indices, values, accumulate);
    });
  std::vector<Tensor> idx = expand_indices(self, indices, "index_put_");
  RV_CHECK(any_defined(idx), "index_put_: expected at least one index tensor");
  index_put_raw(self, idx, values, accumulate, "index_put_");
  self.bump_version();
  return self;
}

// ---------------------------------------------------------------- index_select / index_add

namespace {
Tensor checked_dim_index(const Tensor& self, int64_t dim, const Tensor& index, const char* op) {
  RV_CHECK_INDEX(index.dim() <= 1, op, "(): Index is supposed to be a vector, but got index of "
                 "shape ", shape_str(index.sizes()));
  Tensor idx = long_index(index, op, false);
  if (idx.dim() == 0) idx = reshape(idx, {1});
  check_range(idx, self.dim() == 0 ? 1 : self.sizes()[dim], dim, op, false);
  return idx;
}
}  // namespace

Tensor index_select(const Tensor& self, int64_t dim, const Tensor& index) {
  if (self.dim() == 0) {
    wrap_dim(dim, 1, "index_select");
    Tensor idx = checked_dim_index(self, 0, index, "index_select");
    return reshape(index_impl(reshape(self, {1}), {idx}, "index_select"),
                   index.dim() == 0 ? Shape{} : Shape{idx.numel()});
  }
  dim = wrap_dim(dim, self.dim(), "index_select");
  Tensor idx = checked_dim_index(self, dim, index, "index_select");
  std::vector<Tensor> all(size_t(self.dim()));
  all[dim] = idx;
  return index_impl(self, all, "index_select");
}

Tensor index_add(const Tensor& self, int64_t dim, const Tensor& index, const Tensor& source,
                 const Scalar& alpha) {
  RV_CHECK(self.dim() > 0, "index_add(): 0-dimensional self is not supported");
  dim = wrap_dim(dim, self.dim(), "index_add");
  Tensor idx = checked_dim_index(self, dim, index, "index_add");
  RV_CHECK(source.dtype() == self.dtype(), "index_add(): self (", dtype_short_name(self.dtype()),
           ") and source (", dtype_short_name(source.dtype()), ") must have the same scalar type");
  Shape want = self.sizes();
  want[dim] = idx.numel();
  RV_CHECK(source.sizes() == want || (source.dim() == 0 && idx.numel() == 1 && self.dim() == 1),
           "index_add(): source of shape ", shape_str(source.sizes()),
           " does not match the expected shape ", shape_str(want), " (self ",
           shape_str(self.sizes()), ", dim ", dim, ", index of ", idx.numel(), " elements)");
  std::vector<Tensor> all(size_t(self.dim()));
  all[dim] = idx;
  bool unit = alpha.is_floating() ? alpha.to_double() == 1.0 : alpha.to_int() == 1;
  Tensor src = unit ? source : mul(source, alpha);
  if (src.dtype() != self.dtype()) src = to_dtype(src, self.dtype());
  return index_put(self, all, reshape(src, want), true);
}

Tensor& index_add_(Tensor& self, int64_t dim, const Tensor& index, const Tensor& source,
                   const Scalar& alpha) {
  if (autograd::inplace_needs_grad(self, {source}, "index_add_"))
    return autograd::record_inplace(self, "index_add_", [&](const Tensor& s) {
      return index_add(s, dim, index, source, alpha);
    });
  Tensor r;
  {
    autograd::NoGradGuard ng;
    r = index_add(detach(self), dim, index, source, alpha);
  }
  Tensor d = detach(self);
  copy_(d, r);
  return self;
}

// ---------------------------------------------------------------- masked ops

namespace {
void check_mask(const Tensor& mask, const char* op) {
  RV_CHECK(mask.dtype() == DType::Bool, op, " only supports boolean masks, but got mask with "
           "dtype ", dtype_name(mask.dtype()));
}

void masked_fill_raw(const Tensor& out, const Tensor& self, const Tensor& mask, const Scalar& v) {
  check_same_device("masked_fill", {&out, &self, &mask});
  if (out.numel() == 0) return;
  Tensor s = self, m = mask;
  if (overlaps_differently(out, s)) s = contiguous_clone(s);
  if (m.impl()->storage() == out.impl()->storage()) m = contiguous_clone(m);
  LoopSpec spec = make_loop(out, {&s, &m});
  masked_fill_kernel.get(out.device(), "masked_fill")(spec, v);
}

Scalar scalar_of(const Tensor& value, const char* op) {
  RV_CHECK(value.dim() == 0, op, " only supports a 0-dimensional value tensor, but got tensor "
           "with ", value.dim(), " dimension(s).");
  Tensor v = contiguous_clone(to_device(
      to_dtype(detach(value), is_floating(value.dtype()) ? DType::Float64
               : value.dtype() == DType::Bool ? DType::Bool : DType::Int64), Device()));
  if (v.dtype() == DType::Float64) return Scalar(*v.data<double>());
  if (v.dtype() == DType::Bool) return Scalar(*v.data<bool>());
  return Scalar(*v.data<int64_t>());
}
}  // namespace

Tensor masked_fill(const Tensor& self, const Tensor& mask, const Scalar& value) {
  check_mask(mask, "masked_fill");
  Shape b = broadcast_shapes(self.sizes(), mask.sizes(), "masked_fill");
  Tensor out = empty(b, self.dtype(), self.device());
  masked_fill_raw(out, detach(self), detach(mask), value);
  if (autograd::needs_grad({self})) {
    Shape in_sizes = self.sizes();
    Tensor m = mask;
    autograd::record("MaskedFillBackward0", {self}, {&out}, {}, {},
                     [in_sizes, m](BackwardContext& c) {
                       return TensorList{sum_to_size(masked_fill(c.grad(), m, Scalar(0.0)), in_sizes)};
                     });
  }
  return out;
}

Tensor masked_fill(const Tensor& self, const Tensor& mask, const Tensor& value) {
  check_mask(mask, "masked_fill");
  Scalar v = scalar_of(value, "masked_fill");
  Shape b = broadcast_shapes(self.sizes(), mask.sizes(), "masked_fill");
  Tensor out = empty(b, self.dtype(), self.device());
  masked_fill_raw(out, detach(self), detach(mask), v);
  if (autograd::needs_grad({self, value})) {
    Shape in_sizes = self.sizes();
    DType vdt = value.dtype();
    Tensor m = mask;
    autograd::record("MaskedFillBackward1", {self, value}, {&out}, {}, {},
                     [in_sizes, m, vdt](BackwardContext& c) {
                       TensorList g(2);
                       Tensor kept = masked_fill(c.grad(), m, Scalar(0.0));
                       if (c.needs(0)) g[0] = sum_to_size(kept, in_sizes);
                       if (c.needs(1)) g[1] = to_dtype(sum(sub(c.grad(), kept)), vdt);
                       return g;
                     });
  }
  return out;
}

Tensor& masked_fill_(Tensor& self, const Tensor& mask, const Scalar& value) {
  check_mask(mask, "masked_fill_");
  Shape b = broadcast_shapes(self.sizes(), mask.sizes(), "masked_fill_");
  RV_CHECK(b == self.sizes(), "masked_fill_: mask of shape ", shape_str(mask.sizes()),
           " cannot be broadcast to self of shape ", shape_str(self.sizes()));
  if (autograd::inplace_needs_grad(self, {}, "masked_fill_"))
    return autograd::record_inplace(self, "masked_fill_", [&](const Tensor& s) {
      return masked_fill(s, mask, value);
    });
  masked_fill_raw(self, self, detach(mask), value);
  self.bump_version();
  return self;
}

Tensor& masked_fill_(Tensor& self, const Tensor& mask, const Tensor& value) {
  check_mask(mask, "masked_fill_");
  Shape b = broadcast_shapes(self.sizes(), mask.sizes(), "masked_fill_");
  RV_CHECK(b == self.sizes(), "masked_fill_: mask of shape ", shape_str(mask.sizes()),
           " cannot be broadcast to self of shape ", shape_str(self.sizes()));
  if (autograd::inplace_needs_grad(self, {value}, "masked_fill_"))
    return autograd::record_inplace(self, "masked_fill_", [&](const Tensor& s) {
      return masked_fill(s, mask, value);
    });
  masked_fill_raw(self, self, detach(mask), scalar_of(value, "masked_fill_"));
  self.bump_version();
  return self;
}

Tensor masked_select(const Tensor& self, const Tensor& mask) {
  check_mask(mask, "masked_select");
  Shape b = broadcast_shapes(self.sizes(), mask.sizes(), "masked_select");
  Tensor x = self.sizes() == b ? self : expand(self, b);
  Tensor m = mask.sizes() == b ? detach(mask) : expand(detach(mask), b);
  if (b.empty()) {
    x = reshape(x, {1});
    m = reshape(m, {1});
  }
  return index(x, {m});
}

// ---------------------------------------------------------------- nonzero / take

Tensor nonzero(const Tensor& self) {
  StridedView v = strided_view(self);
  int64_t n = self.numel() == 0 ? 0 : nonzero_count_kernel.get(self.device(), "nonzero")(v);
  Tensor out = empty({n, self.dim()}, DType::Int64, self.device());
  if (n > 0 && self.dim() > 0) nonzero_kernel.get(self.device(), "nonzero")(v, out.data<int64_t>());
  return out;
}

std::vector<Tensor> nonzero_tuple(const Tensor& self) {
  Tensor s = self.dim() == 0 ? reshape(detach(self), {1}) : self;
  Tensor nz = nonzero(s);
  std::vector<Tensor> out;
  for (int64_t j = 0; j < s.dim(); ++j) out.push_back(contiguous_clone(select(nz, 1, j)));
  return out;
}

Tensor take(const Tensor& self, const Tensor& index) {
  Tensor idx = long_index(index, "take", false);
  Tensor flat = reshape(self, {-1});
  return index_impl(flat, {idx}, "take");
}

}  // namespace ranvier
