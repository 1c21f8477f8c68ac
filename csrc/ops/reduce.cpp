// Reductions (see reduce.h).
#include "ops/reduce.h"

#include "autograd/function.h"
#include "ops/copy.h"
#include "ops/factory.h"
#include "ops/shape.h"

namespace ranvier {

using autograd::BackwardContext;
using autograd::TensorList;

KernelSlot<ReduceKernel> reduce_kernel;

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
  }
  return s;
}

Tensor unsqueeze_reduced(const Tensor& g, const std::vector<bool>& reduced, bool keepdim) {
  if (keepdim) return g;
  Shape s;
  int64_t k = 0;
  for (size_t i = 0; i < reduced.size(); ++i) s.push_back(reduced[i] ? 1 : g.sizes()[k++]);
  return reshape(g, s);
}

Tensor sum(const Tensor& t, const std::vector<int64_t>& dims, bool keepdim) {
  std::vector<bool> red = reduced_dims(t, dims, "sum");
  DType od = is_floating(t.dtype()) ? t.dtype() : DType::Int64;
  DType cd = is_reduced_float(od) ? DType::Float32 : od;
  Tensor in = t.dtype() == cd || !is_floating(t.dtype()) ? t : to_dtype(detach(t), cd);
  Tensor out = empty(reduced_shape(t, red, keepdim), cd, t.device());
  ReduceSpec spec = make_reduce_spec(in, red, out);
  reduce_kernel.get(t.device(), "sum")(ReduceOp::Sum, spec);
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

}  // namespace ranvier
