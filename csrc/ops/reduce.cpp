// Reductions (see reduce.h): the shared helpers (dims, output shape, ReduceSpec), then sum,
// mean, prod, all/any and the max/min family. Backward formulas are written with ops.
#include "ops/reduce.h"

#include "autograd/function.h"
#include "ops/binary.h"
#include "ops/copy.h"
#include "ops/factory.h"
#include "ops/iter.h"
#include "ops/shape.h"

namespace ranvier {

using autograd::BackwardContext;
using autograd::TensorList;

KernelSlot<ReduceKernel> reduce_kernel{"reduce"};

// ---- helpers ----

std::vector<bool> reduced_dims(const Tensor& t, const std::vector<int64_t>& dims, const char* op) {
  std::vector<bool> r(t.dim(), dims.empty());
  for (int64_t d : dims) {
    int64_t w = wrap_dim(d, t.dim(), op);
    if (t.dim() == 0) continue;
    RV_CHECK(!r[w], op, ": dim ", w, " appears multiple times in the list of dims");
    r[w] = true;
  }
  return r;
}

Shape reduced_shape(const Tensor& t, const std::vector<bool>& reduced, bool keepdim) {
  Shape s;
  for (int64_t i = 0; i < t.dim(); ++i) {
    if (!reduced[i]) s.push_back(t.sizes()[i]);
    else if (keepdim) s.push_back(1);
  }
  return s;
}

int64_t reduced_count(const Tensor& t, const std::vector<bool>& reduced) {
  int64_t n = 1;
  for (int64_t i = 0; i < t.dim(); ++i)
    if (reduced[i]) n *= t.sizes()[i];
  return n;
}

ReduceSpec make_reduce_spec(const Tensor& t, const std::vector<bool>& reduced, const Tensor& out) {
  ReduceSpec s;
  s.out = static_cast<char*>(out.data_ptr());
  s.out_dtype = out.dtype();
  s.in = static_cast<const char*>(t.data_ptr());
  s.in_dtype = t.dtype();
  for (int64_t i = 0; i < t.dim(); ++i) {
    if (t.sizes()[i] == 1) continue;
    if (reduced[i]) {
      s.inner_sizes[s.ninner] = t.sizes()[i];
      s.inner_strides[s.ninner++] = t.strides()[i];
      s.inner_numel *= t.sizes()[i];
    } else {
      s.outer_sizes[s.nouter] = t.sizes()[i];
      s.outer_strides[s.nouter++] = t.strides()[i];
      s.outer_numel *= t.sizes()[i];
    }
  }
  if (t.numel() == 0) {
    s.outer_numel = out.numel();
    s.inner_numel = 0;
    return s;
  }
  // Merge neighbouring dims of the same kind that are laid out as one (row-major order, and so
  // the flat inner index, is unchanged): a contiguous full reduction becomes one long row.
  auto coalesce = [](int& nd, int64_t* sizes, int64_t* strides) {
    int k = 0;
    for (int i = 1; i < nd; ++i) {
      if (strides[k] == strides[i] * sizes[i]) {
        sizes[k] *= sizes[i];
        strides[k] = strides[i];
      } else {
        ++k;
        sizes[k] = sizes[i];
        strides[k] = strides[i];
      }
    }
    if (nd > 0) nd = k + 1;
  };
  coalesce(s.ninner, s.inner_sizes, s.inner_strides);
  coalesce(s.nouter, s.outer_sizes, s.outer_strides);
  return s;
}

Tensor unsqueeze_reduced(const Tensor& g, const std::vector<bool>& reduced, bool keepdim) {
  if (keepdim) return g;
  Shape s;
  int64_t k = 0;
  for (size_t i = 0; i < reduced.size(); ++i) s.push_back(reduced[i] ? 1 : g.sizes()[k++]);
  return reshape(g, s);
}

Tensor reduce_raw(ReduceOp op, const Tensor& in, const std::vector<bool>& reduced, bool keepdim,
                  DType out_dtype, const char* name, double p, Tensor* indices, bool values) {
  Shape shape = reduced_shape(in, reduced, keepdim);
  Tensor out = empty(shape, out_dtype, in.device());
  if (indices) *indices = empty(shape, DType::Int64, in.device());
  if (out.numel() == 0) return out;
  ReduceSpec spec = make_reduce_spec(in, reduced, out);
  if (!values) spec.out = nullptr;
  spec.p = p;
  if (indices) spec.indices = indices->data<int64_t>();
  reduce_kernel.get(in.device(), name)(op, spec);
  return out;
}

namespace {

DType compute_of(DType t) { return is_reduced_float(t) ? DType::Float32 : t; }

// The input converted (without history) to the dtype the kernel computes in.
Tensor compute_input(const Tensor& t, DType ct) {
  return t.dtype() == ct ? t : to_dtype(detach(t), ct);
}

// Sum-like ops (sum, prod): integers and bool widen to int64 unless dtype says otherwise.
DType sum_result_dtype(DType in) { return is_floating(in) ? in : DType::Int64; }

// Mask (in g's dtype) of the inputs equal to the reduced value, shared evenly between ties.
Tensor even_share(const Tensor& x, const Tensor& value_kept, const std::vector<bool>& red,
                  DType dt) {
  std::vector<int64_t> dims;
  for (size_t i = 0; i < red.size(); ++i)
    if (red[i]) dims.push_back(int64_t(i));
  Tensor mask = to_dtype(eq(x, value_kept), dt);
  Tensor count = sum(mask, dims, true);
  return div(mask, count);
}

}  // namespace

// ---- sum, mean, prod ----

Tensor sum(const Tensor& t, const std::vector<int64_t>& dims, bool keepdim, OptDType dtype) {
  if (dtype && *dtype != t.dtype()) return sum(to_dtype(t, *dtype), dims, keepdim, dtype);
  std::vector<bool> red = reduced_dims(t, dims, "sum");
  DType od = dtype ? *dtype : sum_result_dtype(t.dtype());
  DType cd = compute_of(od);
  // 16-bit inputs go to the kernel as they are where it reads them (Note [16-bit operands])
  Tensor in = is_floating(t.dtype()) ? kernel_operand(t, cd, t.device()) : t;
  Tensor out = reduce_raw(ReduceOp::Sum, in, red, keepdim, cd, "sum");
  if (cd != od) out = to_dtype(out, od);
  if (autograd::needs_grad({t})) {
    Shape in_sizes = t.sizes();
    autograd::record("SumBackward1", {t}, {&out}, {}, {},
                     [in_sizes, red, keepdim](BackwardContext& c) {
                       return TensorList{expand(unsqueeze_reduced(c.grad(), red, keepdim), in_sizes)};
                     });
  }
  return out;
}

Tensor mean(const Tensor& t, const std::vector<int64_t>& dims, bool keepdim, OptDType dtype) {
  if (dtype) {
    RV_CHECK(is_floating(*dtype), "mean(): could not infer output dtype. Optional dtype must be ",
             "either a floating point or complex dtype. Got: ", dtype_short_name(*dtype));
    if (*dtype != t.dtype()) return mean(to_dtype(t, *dtype), dims, keepdim);
  }
  RV_CHECK(is_floating(t.dtype()), "mean(): could not infer output dtype. Input dtype must be ",
           "either a floating point or complex dtype. Got: ", dtype_short_name(t.dtype()));
  std::vector<bool> red = reduced_dims(t, dims, "mean");
  double n = double(reduced_count(t, red));
  if (is_reduced_float(t.dtype())) {
    Tensor s = sum(to_dtype(t, DType::Float32), dims, keepdim);
    return to_dtype(div(s, Scalar(n)), t.dtype());
  }
  return div(sum(t, dims, keepdim), Scalar(n));
}

namespace {

// prod's gradient where the input has zeros: g * (product of the other elements), from
// exclusive prefix and suffix products over the reduced dims flattened into one.
Tensor prod_grad_with_zeros(const Tensor& g_kept, const Tensor& x, const std::vector<bool>& red) {
  std::vector<int64_t> perm, back(x.dim());
  Shape kept_shape;
  for (int64_t i = 0; i < x.dim(); ++i)
    if (!red[i]) {
      perm.push_back(i);
      kept_shape.push_back(x.sizes()[i]);
    }
  int64_t n = 1;
  for (int64_t i = 0; i < x.dim(); ++i)
    if (red[i]) {
      perm.push_back(i);
      n *= x.sizes()[i];
    }
  for (size_t i = 0; i < perm.size(); ++i) back[perm[i]] = int64_t(i);
  Shape flat_shape = kept_shape;
  flat_shape.push_back(n);
  Tensor xf = reshape(contiguous_clone(permute(detach(x), perm)), flat_shape);
  int64_t last = int64_t(flat_shape.size()) - 1;
  Tensor left = scan_raw(ScanOp::Prod, xf, last, x.dtype(), true, false, "prod_backward");
  Tensor right = scan_raw(ScanOp::Prod, xf, last, x.dtype(), true, true, "prod_backward");
  Tensor others = mul(left, right);
  Shape perm_shape;
  for (int64_t i : perm) perm_shape.push_back(x.sizes()[i]);
  Tensor others_x = permute(reshape(others, perm_shape), back);
  return mul(g_kept, others_x);
}

}  // namespace

Tensor prod(const Tensor& t, const std::vector<int64_t>& dims, bool keepdim, OptDType dtype) {
  if (dtype && *dtype != t.dtype()) return prod(to_dtype(t, *dtype), dims, keepdim, dtype);
  std::vector<bool> red = reduced_dims(t, dims, "prod");
  DType od = dtype ? *dtype : sum_result_dtype(t.dtype());
  DType cd = compute_of(od);
  Tensor in = is_floating(t.dtype()) ? compute_input(t, cd) : t;
  Tensor out = reduce_raw(ReduceOp::Prod, in, red, keepdim, cd, "prod");
  if (cd != od) out = to_dtype(out, od);
  if (autograd::needs_grad({t})) {
    autograd::record(
        "ProdBackward1", {t}, {&out}, {t}, {&out}, [red, keepdim](BackwardContext& c) {
          Tensor x = c.saved(0), result = c.saved(1);
          Tensor g = unsqueeze_reduced(c.grad(), red, keepdim);
          Tensor zero = scalar_tensor(Scalar(0.0), x.dtype(), x.device());
          Tensor has_zero = any(eq(detach(x), zero));
          if (!*contiguous_clone(to_device(has_zero, Device())).data<bool>())
            return TensorList{div(mul(g, unsqueeze_reduced(result, red, keepdim)), x)};
          // Exact without division; its own derivative is not implemented.
          Tensor r = prod_grad_with_zeros(detach(g), x, red);
          if (autograd::needs_grad({g, x})) {
            autograd::record("ProdBackwardWithZeros", {g, x}, {&r}, {}, {},
                             [](BackwardContext&) -> TensorList {
                               RV_CHECK_NOT_IMPLEMENTED(false,
                                   "prod: double backward is not implemented when the input "
                                   "has zeros");
                               return {};
                             });
          }
          return TensorList{r};
        });
  }
  return out;
}

// ---- all, any ----

namespace {
Tensor logical_reduce(ReduceOp op, const Tensor& t, const std::vector<int64_t>& dims,
                      bool keepdim, const char* name) {
  std::vector<bool> red = reduced_dims(t, dims, name);
  Tensor in = compute_input(t, compute_of(t.dtype()));
  DType od = t.dtype() == DType::UInt8 ? DType::UInt8 : DType::Bool;
  return reduce_raw(op, in, red, keepdim, od, name);
}
}  // namespace

Tensor all(const Tensor& t, const std::vector<int64_t>& dims, bool keepdim) {
  return logical_reduce(ReduceOp::All, t, dims, keepdim, "all");
}
Tensor any(const Tensor& t, const std::vector<int64_t>& dims, bool keepdim) {
  return logical_reduce(ReduceOp::Any, t, dims, keepdim, "any");
}

// ---- max / min family ----

namespace {

// Empty reductions have no identity for max/min: PyTorch's errors.
void check_nonempty(const Tensor& t, const std::vector<int64_t>& dims,
                    const std::vector<bool>& red, const char* name, bool index_error_all) {
  if (t.numel() != 0) return;
  if (dims.empty()) {
    if (index_error_all)
      RV_CHECK_INDEX(false, name, "(): Expected reduction dim to be specified for input.numel() == 0.");
    RV_CHECK(false, name, "(): Expected reduction dim to be specified for input.numel() == 0. ",
             "Specify the reduction dim with the 'dim' argument.");
  }
  for (int64_t i = 0; i < t.dim(); ++i)
    RV_CHECK_INDEX(!(red[i] && t.sizes()[i] == 0), name, "(): Expected reduction dim ", i,
                   " to have non-zero size.");
}

Tensor extreme_values(bool is_max, const Tensor& t, const std::vector<int64_t>& dims,
                      bool keepdim, const char* name) {
  std::vector<bool> red = reduced_dims(t, dims, name);
  check_nonempty(t, dims, red, name, false);
  DType cd = compute_of(t.dtype());
  Tensor out = reduce_raw(is_max ? ReduceOp::Max : ReduceOp::Min, compute_input(t, cd), red,
                          keepdim, cd, name);
  if (cd != t.dtype()) out = to_dtype(out, t.dtype());
  if (autograd::needs_grad({t})) {
    autograd::record(is_max ? "AmaxBackward0" : "AminBackward0", {t}, {&out}, {t}, {&out},
                     [red, keepdim](BackwardContext& c) {
                       Tensor x = c.saved(0);
                       Tensor v = unsqueeze_reduced(detach(c.saved(1)), red, keepdim);
                       Tensor g = unsqueeze_reduced(c.grad(), red, keepdim);
                       return TensorList{mul(g, even_share(detach(x), v, red, g.dtype()))};
                     });
  }
  return out;
}

ValuesIndices extreme_dim(bool is_max, const Tensor& t, int64_t dim, bool keepdim,
                          const char* name) {
  std::vector<bool> red = reduced_dims(t, {dim}, name);
  check_nonempty(t, {dim}, red, name, false);
  DType cd = compute_of(t.dtype());
  Tensor idx;
  Tensor values = reduce_raw(is_max ? ReduceOp::Max : ReduceOp::Min, compute_input(t, cd), red,
                             keepdim, cd, name, 2.0, &idx);
  if (cd != t.dtype()) values = to_dtype(values, t.dtype());
  if (autograd::needs_grad({t})) {
    int64_t d = t.dim() == 0 ? 0 : wrap_dim(dim, t.dim(), name);
    Shape in_sizes = t.sizes();
    Tensor idx_kept = unsqueeze_reduced(idx, red, keepdim);
    autograd::record(is_max ? "MaxBackward0" : "MinBackward0", {t}, {&values}, {idx_kept}, {},
                     [red, keepdim, d, in_sizes](BackwardContext& c) {
                       Tensor g = unsqueeze_reduced(c.grad(), red, keepdim);
                       if (in_sizes.empty()) return TensorList{g};
                       Shape pos_shape(in_sizes.size(), 1);
                       pos_shape[d] = in_sizes[d];
                       Tensor pos = reshape(arange(Scalar(int64_t(0)), Scalar(in_sizes[d]),
                                                   Scalar(int64_t(1)), DType::Int64, g.device()),
                                            pos_shape);
                       Tensor onehot = to_dtype(eq(pos, c.saved(0)), g.dtype());
                       return TensorList{mul(g, onehot)};
                     });
  }
  return {values, idx};
}

Tensor arg_extreme(bool is_max, const Tensor& t, std::optional<int64_t> dim, bool keepdim,
                   const char* name) {
  RV_CHECK(t.dtype() != DType::Bool, name, "(): does not support bool input");
  std::vector<int64_t> dims;
  if (dim) dims.push_back(*dim);
  std::vector<bool> red = reduced_dims(t, dims, name);
  check_nonempty(t, dims, red, name, true);
  DType cd = compute_of(t.dtype());
  Tensor idx;
  reduce_raw(is_max ? ReduceOp::Max : ReduceOp::Min, compute_input(t, cd), red, keepdim, cd,
             name, 2.0, &idx, false);
  return idx;
}

}  // namespace

Tensor amax(const Tensor& t, const std::vector<int64_t>& dims, bool keepdim) {
  return extreme_values(true, t, dims, keepdim, "amax");
}
Tensor amin(const Tensor& t, const std::vector<int64_t>& dims, bool keepdim) {
  return extreme_values(false, t, dims, keepdim, "amin");
}
Tensor max(const Tensor& t) { return extreme_values(true, t, {}, false, "max"); }
Tensor min(const Tensor& t) { return extreme_values(false, t, {}, false, "min"); }
ValuesIndices max(const Tensor& t, int64_t dim, bool keepdim) {
  return extreme_dim(true, t, dim, keepdim, "max");
}
ValuesIndices min(const Tensor& t, int64_t dim, bool keepdim) {
  return extreme_dim(false, t, dim, keepdim, "min");
}
Tensor argmax(const Tensor& t, std::optional<int64_t> dim, bool keepdim) {
  return arg_extreme(true, t, dim, keepdim, "argmax");
}
Tensor argmin(const Tensor& t, std::optional<int64_t> dim, bool keepdim) {
  return arg_extreme(false, t, dim, keepdim, "argmin");
}

}  // namespace ranvier
