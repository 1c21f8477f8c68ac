// embedding_projection() and the pieces the recurrent layers share with it (see embedding.h
// and Note [Embedding projection]).
//
// x [d0, d1, D] = table[indices], n = d0 d1 rows of which u are distinct. With first[k] the
// row where index k first occurs and group[r] the distinct index of row r:
//   forward   y[r]  = (x[first] @ w^T)[group[r]]                     (u products, not n)
//   sums      s[k]  = sum of dy[r] over the rows r with group[r] = k  (in row order)
//   dw              = s^T @ x[first]                                 (u products, not n)
//   dtable[i_k]    += s[k] @ w       when x's gradient goes nowhere else (u, not n)
//   dx        dx[r] = dy[r] @ w      otherwise (the plain product)
// The backward is written with ops (so it is differentiable again), except the sums when no
// graph is being recorded.
#include <atomic>
#include <vector>

#include "autograd/autograd_meta.h"
#include "autograd/engine.h"
#include "autograd/function.h"
#include "autograd/grad_mode.h"
#include "core/parallel.h"
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
  Tensor out = empty({int64_t(v.size())}, DType::Int64);
  std::copy(v.begin(), v.end(), out.data<int64_t>());
  return out;
}

// The distinct indices in order of first occurrence, the row of each first occurrence, and
// the group of each result row (swapped order when swap01). False when there are too many
// distinct indices to pay.
template <typename I>
bool group_rows(const I* idx, int64_t d0, int64_t d1, bool swap01, int64_t num_weights,
                std::vector<int64_t>& tokens, std::vector<int64_t>& first,
                std::vector<int64_t>& group) {
  const int64_t n = d0 * d1, max_groups = n / kMinRowsPerIndex;
  std::vector<int64_t> slot(static_cast<size_t>(num_weights), -1);
  std::vector<int64_t> by_row(static_cast<size_t>(n));
  for (int64_t r = 0; r < n; ++r) {
    const int64_t k = int64_t(idx[r]);
    if (k < 0 || k >= num_weights) return false;  // the plain path reports it
    int64_t& s = slot[size_t(k)];
    if (s < 0) {
      if (int64_t(tokens.size()) == max_groups) return false;
      s = int64_t(tokens.size());
      tokens.push_back(k);
      first.push_back(r);
    }
    by_row[size_t(r)] = s;
  }
  if (!swap01) {
    group = std::move(by_row);
    return true;
  }
  group.resize(size_t(n));
  for (int64_t a = 0; a < d0; ++a)
    for (int64_t b = 0; b < d1; ++b) group[size_t(b * d0 + a)] = by_row[size_t(a * d1 + b)];
  return true;
}

bool float_cpu(const Tensor& t) {
  return (t.dtype() == DType::Float32 || t.dtype() == DType::Float64) && t.device().is_cpu();
}

// Group k's rows, in row order: rows [start[k], start[k + 1]) of `order`.
template <typename T>
void group_sums_cpu(const T* rows, const int64_t* group, int64_t n, int64_t m, int64_t u,
                    T* out) {
  std::vector<int64_t> start(static_cast<size_t>(u + 1), 0);
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t r = 0; r < n; ++r) start[size_t(group[r] + 1)]++;
  for (int64_t k = 0; k < u; ++k) start[size_t(k + 1)] += start[size_t(k)];
  std::vector<int64_t> fill(start.begin(), start.end() - 1);
  for (int64_t r = 0; r < n; ++r) order[size_t(fill[size_t(group[r])]++)] = r;
  parallel_for(0, u, 1, [&](int64_t k0, int64_t k1) {
    for (int64_t k = k0; k < k1; ++k) {
      T* acc = out + k * m;
      std::fill(acc, acc + m, T(0));
      for (int64_t i = start[size_t(k)]; i < start[size_t(k + 1)]; ++i) {
        const T* src = rows + order[size_t(i)] * m;
        for (int64_t j = 0; j < m; ++j) acc[j] += src[j];
      }
    }
  });
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
    const int64_t n = rows.d0 * rows.d1, u = rows.first.numel();
    Tensor dy_rows = reshape(dy, {n, ws.sizes()[0]});
    return projection_grads(dy_rows, group_sums(dy_rows, rows.group, u), xs, ws, rows,
                            next_edges);
  }

  autograd::SavedTensor x, w;
  EmbeddingRows rows;
};

}  // namespace

int64_t embedding_projection_shortcuts() { return shortcuts.load(std::memory_order_relaxed); }

bool embedding_rows(const Tensor& x, const Tensor& w, bool swap01, EmbeddingRows& rows) {
  if (!autograd::GradMode::is_enabled() || !x.defined() || !w.defined()) return false;
  EmbeddingBackward* src = embedding_source(x);
  if (!src || x.dim() != 3 || w.dim() != 2 || w.sizes()[1] != x.sizes()[2] || !float_cpu(x) ||
      !float_cpu(w) || w.dtype() != x.dtype())
    return false;
  Tensor idx = src->indices.unpack(x.grad_fn());
  const int64_t d0 = x.sizes()[0], d1 = x.sizes()[1];
  if (!idx.device().is_cpu() || !idx.is_contiguous() || idx.numel() != d0 * d1) return false;
  std::vector<int64_t> tokens, first, group;
  bool ok = idx.dtype() == DType::Int64
                ? group_rows(idx.data<int64_t>(), d0, d1, swap01, src->num_weights, tokens,
                             first, group)
                : group_rows(idx.data<int32_t>(), d0, d1, swap01, src->num_weights, tokens,
                             first, group);
  if (!ok) return false;
  rows.source = src;
  rows.first = int64_tensor(first);
  rows.group = int64_tensor(group);
  rows.tokens = int64_tensor(tokens);
  rows.d0 = d0;
  rows.d1 = d1;
  rows.num_weights = src->num_weights;
  rows.padding_idx = src->padding_idx;
  rows.swap01 = swap01;
  return true;
}

Tensor distinct_products(const Tensor& x, const Tensor& w, const EmbeddingRows& rows) {
  autograd::NoGradGuard no_grad;
  const int64_t d = x.sizes()[2];
  Tensor distinct = index_select(reshape(detach(x), {rows.d0 * rows.d1, d}), 0, rows.first);
  return mm(distinct, t(detach(w)));
}

Tensor group_sums(const Tensor& rows, const Tensor& group, int64_t u) {
  const int64_t n = rows.sizes()[0], m = rows.sizes()[1];
  if (autograd::GradMode::is_enabled() || !float_cpu(rows) || !rows.is_contiguous())
    return index_add(zeros({u, m}, rows.dtype(), rows.device()), 0, group, rows);
  Tensor out = empty({u, m}, rows.dtype(), rows.device());
  if (rows.dtype() == DType::Float32)
    group_sums_cpu(rows.data<float>(), group.data<int64_t>(), n, m, u, out.data<float>());
  else
    group_sums_cpu(rows.data<double>(), group.data<int64_t>(), n, m, u, out.data<double>());
  return out;
}

TensorList projection_grads(const Tensor& dy_rows, const Tensor& sums, const Tensor& x,
                            const Tensor& w, const EmbeddingRows& rows,
                            const std::vector<autograd::Edge>& edges) {
  const int64_t n = rows.d0 * rows.d1, d = x.sizes()[2];
  TensorList out(3);
  if (edges[2].valid())
    out[2] = mm(t(sums), index_select(reshape(x, {n, d}), 0, rows.first));
  if (edges[1].valid() && autograd::gradient_is_private(edges[0])) {
    out[1] = embedding_weight_grad(mm(sums, w), rows.tokens, rows.num_weights,
                                   rows.padding_idx);
    shortcuts.fetch_add(1, std::memory_order_relaxed);
  } else if (edges[0].valid()) {
    Shape result = rows.swap01 ? Shape{rows.d1, rows.d0, d} : Shape{rows.d0, rows.d1, d};
    Tensor dx = reshape(mm(dy_rows, w), result);
    out[0] = rows.swap01 ? transpose(dx, 0, 1) : dx;
  }
  return out;
}

Tensor embedding_projection(const Tensor& x, const Tensor& w, bool swap01) {
  EmbeddingRows rows;
  if (!embedding_rows(x, w, swap01, rows)) return Tensor();
  auto node = std::make_shared<EmbeddingProjectionBackward>();
  Tensor y;
  {
    autograd::NoGradGuard no_grad;
    Tensor gathered = index_select(distinct_products(x, w, rows), 0, rows.group);
    y = swap01 ? reshape(gathered, {rows.d1, rows.d0, w.sizes()[0]})
               : reshape(gathered, {rows.d0, rows.d1, w.sizes()[0]});
  }
  node->next_edges.push_back(autograd::gradient_edge(x));
  node->next_edges.push_back(rows.source->next_edges[0]);
  node->next_edges.push_back(autograd::gradient_edge(w));
  node->x = autograd::SavedTensor(x, false);
  node->w = autograd::SavedTensor(w, false);
  node->rows = std::move(rows);
  autograd::set_history(y, node);
  return y;
}

}  // namespace ranvier
