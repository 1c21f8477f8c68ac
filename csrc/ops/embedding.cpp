// embedding() and its node (see embedding.h). Written with ops, so it runs on any device and
// its backward is differentiable again.
#include "ops/embedding.h"

#include "autograd/autograd_meta.h"
#include "autograd/function.h"
#include "ops/binary.h"
#include "ops/copy.h"
#include "ops/factory.h"
#include "ops/indexing.h"
#include "ops/shape.h"
#include "ops/ternary.h"

namespace ranvier {

namespace {

// rows [n, d] with the rows whose index is padding_idx replaced by zeros (a select, so an
// infinite gradient there does not leak NaN); unchanged when there is no padding row.
Tensor drop_padding_rows(const Tensor& rows, const Tensor& flat_indices, int64_t padding_idx) {
  if (padding_idx < 0) return rows;
  Tensor pad = scalar_tensor(Scalar(padding_idx), flat_indices.dtype(), flat_indices.device());
  Tensor keep = unsqueeze(ne(flat_indices, pad), 1);
  return where(keep, rows, zeros({}, rows.dtype(), rows.device()));
}

}  // namespace

Tensor embedding_weight_grad(const Tensor& rows, const Tensor& flat_indices,
                             int64_t num_weights, int64_t padding_idx) {
  Tensor kept = drop_padding_rows(rows, flat_indices, padding_idx);
  Tensor table = zeros({num_weights, rows.sizes()[1]}, rows.dtype(), rows.device());
  return index_add(table, 0, flat_indices, kept);
}

Tensor embedding(const Tensor& weight, const Tensor& indices, int64_t padding_idx) {
  RV_CHECK(weight.dim() == 2, "embedding: weight must be 2-D, got ", weight.describe());
  RV_CHECK_TYPE(indices.dtype() == DType::Int64 || indices.dtype() == DType::Int32,
                "embedding: expected indices of type int64 or int32, got ", indices.describe());
  RV_CHECK(indices.device() == weight.device(), "embedding: indices on ",
           indices.device().str(), " and weight on ", weight.device().str());
  const int64_t rows = weight.sizes()[0];
  RV_CHECK_VALUE(padding_idx < rows, "embedding: padding_idx ", padding_idx,
                 " is out of range for a weight with ", rows, " rows");
  Tensor out;
  {
    autograd::NoGradGuard no_grad;
    out = index(detach(weight), {indices});
  }
  if (!autograd::needs_grad({weight})) return out;
  auto node = std::make_shared<EmbeddingBackward>();
  node->next_edges.push_back(autograd::gradient_edge(weight));
  node->indices = autograd::SavedTensor(indices, false);
  node->num_weights = rows;
  node->padding_idx = padding_idx;
  autograd::set_history(out, node);
  return out;
}

autograd::TensorList EmbeddingBackward::apply(autograd::TensorList&& grads) {
  const Tensor& g = grads[0];
  if (!g.defined() || !next_edges[0].valid()) return autograd::TensorList(1);
  Tensor idx = indices.unpack(shared_from_this());
  const int64_t n = idx.numel(), dim = input_metas[0].sizes.back();
  return {embedding_weight_grad(reshape(g, {n, dim}), reshape(idx, {n}), num_weights,
                                padding_idx)};
}

EmbeddingBackward* embedding_source(const Tensor& x) {
  if (!x.defined() || !x.requires_grad()) return nullptr;
  auto* node = dynamic_cast<EmbeddingBackward*>(x.grad_fn().get());
  if (!node || x.output_nr() != 0 || x.version() != 0 || x.storage_offset() != 0 ||
      !x.is_contiguous() || x.sizes() != node->input_metas[0].sizes ||
      !node->indices.is_current())
    return nullptr;
  return node;
}

}  // namespace ranvier
