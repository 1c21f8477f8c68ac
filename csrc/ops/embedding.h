// Embedding lookup as one op, and the projection of looked-up rows (Note [Embedding
// projection], docs/design.md).
//
// embedding(weight, indices, padding_idx): weight[indices], shape indices.shape + [dim]. Its
// node, EmbeddingBackward, sums the output gradient's rows into the looked-up weight rows
// (row padding_idx gets none; padding_idx < 0: no padding row).
//
// embedding_projection(x, w, swap01): x @ w^T for an x that is the unmodified output of
// embedding() with many more rows than distinct indices. Only the distinct rows are
// multiplied (then gathered), the weight gradient is one small product of the gradient
// summed per index, and when nothing but this op uses x's gradient, the table's gradient is
// made from those sums directly (x's gradient, as large as x, is never formed). swap01
// returns the result with the first two dims swapped (batch-first embeddings feeding a
// time-major layer). Returns an undefined tensor when it does not apply (x is not such an
// output, too few repeats, not float32/float64 on the CPU, shapes that do not fit): the
// caller then runs the plain product.
#pragma once
#include <cstdint>
#include <vector>

#include "autograd/node.h"
#include "autograd/saved_tensor.h"
#include "core/tensor.h"

namespace ranvier {

Tensor embedding(const Tensor& weight, const Tensor& indices, int64_t padding_idx);

// How many backwards of embedding_projection() have made the table's gradient directly (for
// tests).
int64_t embedding_projection_shortcuts();

// The weight's gradient [num_weights, dim] from rows [n, dim] looked up by flat_indices [n].
Tensor embedding_weight_grad(const Tensor& rows, const Tensor& flat_indices,
                             int64_t num_weights, int64_t padding_idx);

Tensor embedding_projection(const Tensor& x, const Tensor& w, bool swap01);

// The node of embedding(); its one edge leads to the weight.
struct EmbeddingBackward final : autograd::Node {
  autograd::TensorList apply(autograd::TensorList&& grads) override;
  std::string name() const override { return "EmbeddingBackward0"; }
  void release_saved() override { indices.release(); }

  autograd::SavedTensor indices;  // as given (any shape), int64 or int32
  int64_t num_weights = 0;
  int64_t padding_idx = -1;
};

// The distinct rows of an embedding's output x [d0, d1, D] (see embedding_projection): made
// by embedding_rows() when the projection applies to x and w [m, D].
struct EmbeddingRows {
  EmbeddingBackward* source = nullptr;  // x's node
  Tensor first;   // [u] int64: the row of x (flattened) where each distinct index first occurs
  Tensor group;   // [n] int64: the distinct index of each result row (result row order)
  Tensor tokens;  // [u] int64: the distinct indices
  int64_t d0 = 0, d1 = 0;
  int64_t num_weights = 0, padding_idx = -1;
  bool swap01 = false;
};
bool embedding_rows(const Tensor& x, const Tensor& w, bool swap01, EmbeddingRows& rows);

// x[first] @ w^T: [u, m] (no graph recorded).
Tensor distinct_products(const Tensor& x, const Tensor& w, const EmbeddingRows& rows);

// The gradients of y = x @ w^T (result rows gathered from the distinct products) given
// dy_rows [n, m] in result row order and their sums per distinct index [u, m]: {x's, the
// table's, w's}, following `edges` (x, the table, w; none where an edge is invalid). The
// table's gradient comes from the sums when x's gradient is private to the caller
// (autograd::gradient_is_private), x's from dy_rows otherwise.
autograd::TensorList projection_grads(const Tensor& dy_rows, const Tensor& sums,
                                      const Tensor& x, const Tensor& w,
                                      const EmbeddingRows& rows,
                                      const std::vector<autograd::Edge>& edges);

// The sums per distinct index [u, m] of rows [n, m] (group [n] gives each row's index), each
// summed in row order.
Tensor group_sums(const Tensor& rows, const Tensor& group, int64_t u);

// The EmbeddingBackward node whose untouched output x is (x itself, not a view of it, never
// written in place), or null.
EmbeddingBackward* embedding_source(const Tensor& x);

}  // namespace ranvier
