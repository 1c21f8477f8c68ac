// sort / argsort / topk / unique (see sort.h). Backward of sort and topk scatters the gradient
// of the values back to the positions named by the indices (scatter_add into zeros), which is
// differentiable again through gather.
#include "ops/sort.h"

#include "autograd/function.h"
#include "ops/copy.h"
#include "ops/factory.h"
#include "ops/shape.h"

namespace ranvier {

using autograd::BackwardContext;
using autograd::TensorList;

KernelSlot<SortKernel> sort_kernel{"sort"};
KernelSlot<UniqueGroupsKernel> unique_groups_kernel{"unique_groups"};

namespace {

std::tuple<Tensor, Tensor> sort_impl(const Tensor& self, int64_t dim, bool descending, int64_t k,
                                     const char* op, const char* node) {
  Tensor x = self.dim() == 0 ? reshape(detach(self), {1}) : detach(self);
  dim = wrap_dim(dim, x.dim(), op);
  Shape out_sizes = x.sizes();
  out_sizes[dim] = k;
  Tensor values = empty(out_sizes, x.dtype(), x.device());
  Tensor indices = empty(out_sizes, DType::Int64, x.device());
  if (values.numel() > 0)
    sort_kernel.get(x.device(), op)(strided_view(values), strided_view(indices), strided_view(x),
                                    int(dim), descending, k);
  if (self.dim() == 0) {
    values = reshape(values, {});
    indices = reshape(indices, {});
  }
  if (autograd::needs_grad({self})) {
    Shape in_sizes = self.sizes();
    Tensor saved_idx = indices;
    int64_t d = self.dim() == 0 ? 0 : dim;
    bool scalar = self.dim() == 0;
    autograd::record(node, {self}, {&values}, {}, {},
                     [in_sizes, saved_idx, d, scalar](BackwardContext& c) {
                       if (scalar) return TensorList{c.grad()};
                       Tensor z = zeros(in_sizes, c.grad().dtype(), c.grad().device());
                       return TensorList{scatter_add(z, d, saved_idx, c.grad())};
                     });
  }
  return {values, indices};
}

}  // namespace

std::tuple<Tensor, Tensor> sort(const Tensor& self, int64_t dim, bool descending, bool stable) {
  (void)stable;  // the kernel is always stable
  int64_t n = self.dim() == 0 ? 1 : self.sizes()[wrap_dim(dim, self.dim(), "sort")];
  return sort_impl(self, dim, descending, n, "sort", "SortBackward0");
}

Tensor argsort(const Tensor& self, int64_t dim, bool descending, bool stable) {
  autograd::NoGradGuard ng;
  return std::get<1>(sort(self, dim, descending, stable));
}

std::tuple<Tensor, Tensor> topk(const Tensor& self, int64_t k, int64_t dim, bool largest,
                                bool sorted) {
  (void)sorted;  // results always come sorted
  int64_t n = self.dim() == 0 ? 1 : self.sizes()[wrap_dim(dim, self.dim(), "topk")];
  RV_CHECK(k >= 0 && k <= n, "topk: selected index k out of range (k = ", k,
                 ", size of dim ", dim, " is ", n, " for input of shape ", shape_str(self.sizes()),
                 ")");
  return sort_impl(self, dim, largest, k, "topk", "TopkBackward0");
}

std::tuple<Tensor, Tensor, Tensor> unique(const Tensor& self, bool sorted, bool return_inverse,
                                          bool return_counts) {
  (void)sorted;  // results always come sorted
  autograd::NoGradGuard ng;
  Tensor flat = reshape(detach(self), {-1});
  auto [values, perm] = sort(flat, 0, false, true);
  int64_t n = flat.numel();
  Tensor group = empty({n}, DType::Int64, self.device());
  int64_t g = n == 0 ? 0
                     : unique_groups_kernel.get(self.device(), "unique")(strided_view(values),
                                                                        group.data<int64_t>());
  Tensor uniq = empty({g}, self.dtype(), self.device());
  if (n > 0) index_put_(uniq, {group}, values, false);
  Tensor inverse, counts;
  if (return_inverse) {
    inverse = empty({n}, DType::Int64, self.device());
    if (n > 0) index_put_(inverse, {perm}, group, false);
    inverse = reshape(inverse, self.sizes());
  }
  if (return_counts) {
    counts = zeros({g}, DType::Int64, self.device());
    if (n > 0) index_put_(counts, {group}, ones({n}, DType::Int64, self.device()), true);
  }
  return {uniq, inverse, counts};
}

}  // namespace ranvier
