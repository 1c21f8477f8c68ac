// embedding_projection() (see embedding.h and Note [Embedding projection]).
//
// x [d0, d1, D] = table[indices], n = d0 d1 rows of which u are distinct. With first[k] the
// row where index k first occurs and group[r] the distinct index of row r:
//   forward   y[r]  = (x[first] @ w^T)[group[r]]                     (u products, not n)
//   sums      s[k]  = sum of dy[r] over the rows r with group[r] = k  (in row order)
//   dw              = s^T @ x[first]                                 (u products, not n)
//   dtable[i_k]    += s[k] @ w       when x's gradient goes nowhere else (u, not n)
//   dx        dx[r] = dy[r] @ w      otherwise (the plain product)
// Every step is an op, so the backward runs on any device and is differentiable again.
#include <atomic>
#include <vector>

#include "autograd/autograd_meta.h"
#include "autograd/engine.h"
#include "autograd/function.h"
#include "autograd/grad_mode.h"
#include "ops/copy.h"
#include "ops/embedding.h"
#include "ops/factory.h"
#include "ops/indexing.h"
#include "ops/matmul.h"
#include "ops/shape.h"

namespace ranvier {

namespace {

using autograd::TensorList;

std::atomic<int64_t> shortcuts{0};

// Below this many rows per distinct index the gathers cost more than the products they save.
constexpr int64_t kMinRowsPerIndex = 4;

Tensor int64_tensor(const std::vector<int64_t>& v) {
  Tensor t = empty({int64_t(v.size())}, DType::Int64);
  std::copy(v.begin(), v.end(), t.data<int64_t>());
  return t;
}

// The distinct indices in order of first occurrence (`tokens`), the row of each first
// occurrence (`first`), and the group of each result row (`group`, in the result's row order:
// swapped when swap01). False when there are too many distinct indices to pay.
struct Groups {
  std::vector<int64_t> tokens, first, group;
};

template <typename I>
bool group_rows(const I* idx, int64_t d0, int64_t d1, bool swap01, int64_t num_weights,
                Groups& g) {
  const int64_t n = d0 * d1, max_groups = n / kMinRowsPerIndex;
  std::vector<int64_t> slot(static_cast<size_t>(num_weights), -1);
  std::vector<int64_t> by_row(static_cast<size_t>(n));
  for (int64_t r = 0; r < n; ++r) {
    const int64_t k = int64_t(idx[r]);
    if (k < 0 || k >= num_weights) return false;  // the plain path reports it
    int64_t& s = slot[size_t(k)];
    if (s < 0) {
      if (int64_t(g.tokens.size()) == max_groups) return false;
      s = int64_t(g.tokens.size());
      g.tokens.push_back(k);
      g.first.push_back(r);
    }
    by_row[size_t(r)] = s;
  }
  if (!swap01) {
    g.group = std::move(by_row);
    return true;
  }
  g.group.resize(size_t(n));
  for (int64_t a = 0; a < d0; ++a)
    for (int64_t b = 0; b < d1; ++b) g.group[size_t(b * d0 + a)] = by_row[size_t(a * d1 + b)];
  return true;
}

struct EmbeddingProjectionBackward final : autograd::Node {
  std::string name() const override { return "EmbeddingProjectionBackward0"; }
  void release_saved() override {
    x.release();
    w.release();
  }

  TensorList apply(TensorList&& grads) override {
    const Tensor& dy = grads[0];
    if (!dy.defined()) return TensorList(3);
    auto self = shared_from_this();
    Tensor xs = x.unpack(self), ws = w.unpack(self);
    const int64_t n = out_sizes[0] * out_sizes[1], d = xs.sizes()[2], m = ws.sizes()[0];
    const int64_t u = first.numel();
    Tensor rows = reshape(dy, {n, m});
    Tensor sums = index_add(zeros({u, m}, dy.dtype(), dy.device()), 0, group, rows);
    TensorList out(3);
    if (next_edges[2].valid()) out[2] = mm(t(sums), index_select(reshape(xs, {n, d}), 0, first));
    if (next_edges[1].valid() && autograd::gradient_is_private(next_edges[0])) {
      out[1] = embedding_weight_grad(mm(sums, ws), tokens, num_weights, padding_idx);
      shortcuts.fetch_add(1, std::memory_order_relaxed);
    } else if (next_edges[0].valid()) {
      Tensor dx = reshape(mm(rows, ws), {out_sizes[0], out_sizes[1], d});
      out[0] = swap01 ? transpose(dx, 0, 1) : dx;
    }
    return out;
  }

  autograd::SavedTensor x, w;
  Tensor first, group, tokens;  // int64, on x's device
  Shape out_sizes;
  int64_t num_weights = 0, padding_idx = -1;
  bool swap01 = false;
};

bool float_cpu(const Tensor& t) {
  return (t.dtype() == DType::Float32 || t.dtype() == DType::Float64) && t.device().is_cpu();
}

}  // namespace

int64_t embedding_projection_shortcuts() { return shortcuts.load(std::memory_order_relaxed); }

Tensor embedding_projection(const Tensor& x, const Tensor& w, bool swap01) {
  if (!autograd::GradMode::is_enabled() || !x.defined() || !w.defined()) return Tensor();
  EmbeddingBackward* src = embedding_source(x);
  if (!src || x.dim() != 3 || w.dim() != 2 || w.sizes()[1] != x.sizes()[2] || !float_cpu(x) ||
      !float_cpu(w) || w.dtype() != x.dtype())
    return Tensor();
  Tensor idx = src->indices.unpack(x.grad_fn());
  if (!idx.device().is_cpu() || !idx.is_contiguous() || idx.numel() != x.sizes()[0] * x.sizes()[1])
    return Tensor();
  const int64_t d0 = x.sizes()[0], d1 = x.sizes()[1], d = x.sizes()[2], m = w.sizes()[0];
  Groups g;
  bool ok = idx.dtype() == DType::Int64
                ? group_rows(idx.data<int64_t>(), d0, d1, swap01, src->num_weights, g)
                : group_rows(idx.data<int32_t>(), d0, d1, swap01, src->num_weights, g);
  if (!ok) return Tensor();

  auto node = std::make_shared<EmbeddingProjectionBackward>();
  node->first = int64_tensor(g.first);
  node->group = int64_tensor(g.group);
  node->tokens = int64_tensor(g.tokens);
  node->out_sizes = swap01 ? Shape{d1, d0} : Shape{d0, d1};
  node->num_weights = src->num_weights;
  node->padding_idx = src->padding_idx;
  node->swap01 = swap01;
  Tensor y;
  {
    autograd::NoGradGuard no_grad;
    Tensor distinct = index_select(reshape(detach(x), {d0 * d1, d}), 0, node->first);
    Tensor products = mm(distinct, t(detach(w)));
    y = reshape(index_select(products, 0, node->group), {node->out_sizes[0],
                                                          node->out_sizes[1], m});
  }
  node->next_edges.push_back(autograd::gradient_edge(x));
  node->next_edges.push_back(src->next_edges[0]);
  node->next_edges.push_back(autograd::gradient_edge(w));
  node->x = autograd::SavedTensor(x, false);
  node->w = autograd::SavedTensor(w, false);
  autograd::set_history(y, node);
  return y;
}

}  // namespace ranvier
