// rnn_layer (see rnn.h): checks naming the layer and the shapes, the fused forward kernel and
// one backward node running the fused back-through-time kernel.
#include "ops/rnn.h"

#include "autograd/function.h"
#include "kernels/cpu/gemm_packed.h"
#include "ops/binary.h"
#include "ops/copy.h"
#include "ops/embedding.h"
#include "ops/factory.h"
#include "ops/reduce.h"
#include "ops/shape.h"

namespace ranvier {

using autograd::BackwardContext;
using autograd::TensorList;

KernelSlot<RnnKernel> rnn_forward_kernel{"rnn_forward"};
KernelSlot<RnnKernel> rnn_backward_kernel{"rnn_backward"};

int64_t rnn_gate_count(RnnMode mode) {
  switch (mode) {
    case RnnMode::Lstm:
      return 4;
    case RnnMode::Gru:
      return 3;
    default:
      return 1;
  }
}

int64_t rnn_saved_width(RnnMode mode, int64_t h) {
  switch (mode) {
    case RnnMode::Lstm:
      return 6 * h;
    case RnnMode::Gru:
      return 4 * h;
    default:
      return h;
  }
}

namespace {

Tensor prep(const Tensor& t) { return t.defined() ? contiguous(detach(t)) : Tensor(); }

const void* ptr(const Tensor& t) { return t.defined() ? t.data_ptr() : nullptr; }
void* mptr(const Tensor& t) { return t.defined() ? t.data_ptr() : nullptr; }

}  // namespace

namespace {

// One layer run: what the backward kernel needs of the forward.
struct LayerRun {
  RnnSpec spec;
  std::vector<int64_t> lengths;
  DType dt = DType::Float32;
  Device dev;
  const char* name = "rnn_layer";
};

// Checks (naming the layer and the shapes) and the forward kernel. xp_rows: undefined, or
// [T, B] int64 rows of xp [U, G*H] (CPU; made by rnn_layer_embedded, so every value is below U). Returns {y, h_n, c_n} and, in saved, {W_hh, ws, hp}
// as the backward kernel reads them.
std::vector<Tensor> forward_layer(RnnMode mode, const Tensor& xp, const Tensor& xp_rows,
                                  const Tensor& h0, const Tensor& c0, const Tensor& w_hh,
                                  const Tensor& b_hh, bool reverse,
                                  const std::vector<int64_t>& lengths, const char* name,
                                  LayerRun& run, std::vector<Tensor>& saved,
                                  bool batch_first_out = false) {
  const bool lstm = mode == RnnMode::Lstm;
  const int64_t G = rnn_gate_count(mode);
  RV_CHECK_TYPE(xp.dtype() == DType::Float32 || xp.dtype() == DType::Float64, name,
                ": expected a float32 or float64 input, got ", xp.describe());
  RV_CHECK(w_hh.dim() == 2 && w_hh.sizes()[0] == G * w_hh.sizes()[1], name,
           ": expected weight_hh of shape [", G, "*hidden_size, hidden_size], got ",
           w_hh.describe());
  const int64_t H = w_hh.sizes()[1];
  int64_t T, B;
  if (xp_rows.defined()) {
    RV_CHECK(xp.dim() == 2 && xp.sizes()[1] == G * H && xp_rows.dim() == 2 &&
                 xp_rows.dtype() == DType::Int64 && xp_rows.is_contiguous() &&
                 xp.device().is_cpu() && xp_rows.device().is_cpu(),
             name, ": expected input projections [U, ", G * H,
             "] on the CPU with [T, B] int64 rows, got ", xp.describe(), " and ",
             xp_rows.describe());
    T = xp_rows.sizes()[0];
    B = xp_rows.sizes()[1];
  } else {
    RV_CHECK(xp.dim() == 3 && xp.sizes()[2] == G * H, name,
             ": expected input projections of shape [T, B, ", G * H, "], got ", xp.describe());
    T = xp.sizes()[0];
    B = xp.sizes()[1];
  }
  const Shape xs = xp_rows.defined() ? Shape{T, B, G * H} : xp.sizes();
  RV_CHECK(h0.defined() && h0.dim() == 2 && h0.sizes() == Shape({B, H}), name,
           ": expected hidden state h0 of shape ", shape_str({B, H}), " for input projections ",
           shape_str(xs), ", got ", h0.defined() ? h0.describe() : "None");
  if (lstm) {
    RV_CHECK(c0.defined() && c0.dim() == 2 && c0.sizes() == Shape({B, H}), name,
             ": expected cell state c0 of shape ", shape_str({B, H}), " for input projections ",
             shape_str(xs), ", got ", c0.defined() ? c0.describe() : "None");
  }
  if (b_hh.defined()) {
    RV_CHECK(b_hh.dim() == 1 && b_hh.sizes()[0] == G * H, name,
             ": expected bias_hh of shape [", G * H, "], got ", b_hh.describe());
  }
  for (const Tensor* t : {&h0, &c0, &w_hh, &b_hh}) {
    if (!t->defined()) continue;
    RV_CHECK_TYPE(t->dtype() == xp.dtype(), name, ": expected every tensor of dtype ",
                  dtype_name(xp.dtype()), ", got ", t->describe());
    RV_CHECK(t->device() == xp.device(), name, ": expected every tensor on ",
             xp.device().str(), ", got ", t->describe());
  }
  RV_CHECK(lengths.empty() || int64_t(lengths.size()) == B, name, ": expected ", B,
           " sequence lengths, got ", lengths.size());
  for (int64_t len : lengths) {
    RV_CHECK_VALUE(len >= 0 && len <= T, name, ": sequence length ", len,
                   " out of range for ", T, " time steps");
  }

  Tensor xc = prep(xp), hc = prep(h0), cc = lstm ? prep(c0) : Tensor(), wc = prep(w_hh),
         bc = prep(b_hh);
  const DType dt = xp.dtype();
  const Device dev = xp.device();
  Tensor y = batch_first_out ? empty({B, T, H}, dt, dev) : empty({T, B, H}, dt, dev);
  Tensor hn = empty({B, H}, dt, dev);
  Tensor cn = lstm ? empty({B, H}, dt, dev) : Tensor();
  Tensor ws = empty({T, B, rnn_saved_width(mode, H)}, dt, dev);
  Tensor hp = empty({T, B, H}, dt, dev);
  run.lengths = lengths;
  run.dt = dt;
  run.dev = dev;
  run.name = name;
  RnnSpec& spec = run.spec;
  spec.mode = mode;
  spec.is_double = dt == DType::Float64;
  spec.reverse = reverse;
  spec.y_batch_first = batch_first_out;
  spec.t = T;
  spec.b = B;
  spec.h = H;
  spec.lengths = run.lengths.empty() ? nullptr : run.lengths.data();
  spec.xp = ptr(xc);
  spec.xp_rows = xp_rows.defined() ? xp_rows.data<int64_t>() : nullptr;
  spec.h0 = ptr(hc);
  spec.c0 = ptr(cc);
  spec.w_hh = ptr(wc);
  spec.b_hh = ptr(bc);
  spec.y = mptr(y);
  spec.hn = mptr(hn);
  spec.cn = mptr(cn);
  spec.ws = mptr(ws);
  spec.hp = mptr(hp);
  rnn_forward_kernel.get(dev, name)(spec);
  // the backward sets every pointer it reads (from the saved tensors and its own buffers)
  spec.xp = spec.h0 = spec.c0 = spec.w_hh = spec.b_hh = nullptr;
  spec.xp_rows = nullptr;
  spec.y = spec.hn = spec.cn = spec.ws = spec.hp = nullptr;
  saved = {wc, ws, hp};
  return {y, hn, cn};
}

// The backward kernel: {dxp [T, B, G*H], dh0, dc0 (LSTM), dW_hh, db_hh} from the gradients of
// y, h_n and c_n (undefined: zeros) and the saved {W_hh, ws, hp}; with groups (int64 [T B],
// values below u) a sixth: dxp's rows summed per group [u, G*H].
std::vector<Tensor> backward_layer(const LayerRun& run, const TensorList& grads,
                                   const Tensor& sw, const Tensor& sws, const Tensor& shp,
                                   const Tensor& groups = Tensor(), int64_t u = 0) {
  RV_CHECK_NOT_IMPLEMENTED(!autograd::GradMode::is_enabled(), run.name,
                           ": double backward is not supported");
  const RnnSpec& spec = run.spec;
  const bool lstm = spec.mode == RnnMode::Lstm;
  const int64_t T = spec.t, B = spec.b, H = spec.h, GH = rnn_gate_count(spec.mode) * H;
  const DType dt = run.dt;
  const Device dev = run.dev;
  auto grad_or_zeros = [&](size_t i, const Shape& sizes) {
    return i < grads.size() && grads[i].defined() ? contiguous(to_dtype(grads[i], dt))
                                                  : zeros(sizes, dt, dev);
  };
  Tensor dy = grad_or_zeros(0, spec.y_batch_first ? Shape{B, T, H} : Shape{T, B, H});
  Tensor dhn = grad_or_zeros(1, {B, H});
  Tensor dcn = lstm ? grad_or_zeros(2, {B, H}) : Tensor();
  Tensor dxp = empty({T, B, GH}, dt, dev);
  Tensor dh0 = empty({B, H}, dt, dev);
  Tensor dc0 = lstm ? empty({B, H}, dt, dev) : Tensor();
  Tensor dw = empty({GH, H}, dt, dev);
  Tensor db = empty({GH}, dt, dev);
  RnnSpec s = spec;
  s.lengths = run.lengths.empty() ? nullptr : run.lengths.data();
  s.w_hh = ptr(sw);
  s.ws = mptr(sws);
  s.hp = mptr(shp);
  s.xp = s.h0 = s.c0 = s.b_hh = nullptr;
  s.xp_rows = nullptr;
  s.y = s.hn = s.cn = nullptr;
  s.dy = ptr(dy);
  s.dhn = ptr(dhn);
  s.dcn = ptr(dcn);
  s.dxp = mptr(dxp);
  s.dh0 = mptr(dh0);
  s.dc0 = mptr(dc0);
  s.dw_hh = mptr(dw);
  s.db_hh = mptr(db);
  Tensor partial;
  if (groups.defined()) {
    partial = empty({(B + kRnnGroupBlock - 1) / kRnnGroupBlock, u, GH}, dt, dev);
    s.dxp_groups = groups.data<int64_t>();
    s.groups = u;
    s.group_sums = mptr(partial);
  }
  rnn_backward_kernel.get(dev, run.name)(s);
  if (!groups.defined()) return {dxp, dh0, dc0, dw, db};
  return {dxp, dh0, dc0, dw, db, sum(partial, {0}, false)};
}

const char* layer_node_name(RnnMode mode) {
  return mode == RnnMode::Lstm  ? "LstmLayerBackward0"
         : mode == RnnMode::Gru ? "GruLayerBackward0"
                                : "RnnLayerBackward0";
}

}  // namespace

std::vector<Tensor> rnn_layer(RnnMode mode, const Tensor& xp, const Tensor& h0,
                              const Tensor& c0, const Tensor& w_hh, const Tensor& b_hh,
                              bool reverse, const std::vector<int64_t>& lengths,
                              const char* name) {
  const bool lstm = mode == RnnMode::Lstm;
  auto run = std::make_shared<LayerRun>();
  std::vector<Tensor> saved;
  std::vector<Tensor> outs = forward_layer(mode, xp, Tensor(), h0, c0, w_hh, b_hh, reverse,
                                           lengths, name, *run, saved);
  if (!autograd::needs_grad({xp, h0, c0, w_hh, b_hh})) return outs;
  std::vector<Tensor*> recorded{&outs[0], &outs[1]};
  if (lstm) recorded.push_back(&outs[2]);
  autograd::record(layer_node_name(mode), {xp, h0, lstm ? c0 : Tensor(), w_hh, b_hh}, recorded,
                   saved, {}, [run](BackwardContext& ctx) {
    TensorList grads;
    for (size_t i = 0; i < ctx.num_grads(); ++i) grads.push_back(ctx.grad(i));
    std::vector<Tensor> g = backward_layer(*run, grads, ctx.saved(0), ctx.saved(1),
                                           ctx.saved(2));
    TensorList out(5);
    for (size_t i = 0; i < 5; ++i)
      if (ctx.needs(i)) out[i] = g[i];
    return out;
  });
  return outs;
}

namespace {

// rnn_layer_embedded's node: the layer's inputs h0, c0, W_hh, b_hh, then x (through the
// embedding's node), the table, W_ih and b_ih.
struct EmbeddedLayerBackward final : autograd::Node {
  std::string name() const override { return layer_node_name(run->spec.mode); }
  void release_saved() override {
    x.release();
    w_ih.release();
    for (auto& t : saved) t.release();
  }

  TensorList apply(TensorList&& grads) override {
    bool any = false;
    for (auto& g : grads) any = any || g.defined();
    if (!any) return TensorList(next_edges.size());
    auto self = shared_from_this();
    std::vector<Tensor> g = backward_layer(*run, grads, saved[0].unpack(self),
                                           saved[1].unpack(self), saved[2].unpack(self),
                                           rows.group, rows.first.numel());
    const int64_t n = rows.d0 * rows.d1, gh = g[0].sizes()[2];
    Tensor dxp = reshape(g[0], {n, gh});
    const Tensor& sums = g[5];
    TensorList proj = projection_grads(dxp, sums, x.unpack(self), w_ih.unpack(self), rows,
                                       {next_edges[4], next_edges[5], next_edges[6]});
    TensorList out(8);
    for (size_t i = 0; i < 4; ++i)
      if (next_edges[i].valid()) out[i] = g[i + 1];
    for (size_t i = 0; i < 3; ++i) out[4 + i] = proj[i];
    if (next_edges[7].valid()) out[7] = sum(sums, {0}, false);
    return out;
  }

  std::shared_ptr<LayerRun> run;
  std::vector<autograd::SavedTensor> saved;  // W_hh, ws, hp
  autograd::SavedTensor x, w_ih;
  EmbeddingRows rows;
};

}  // namespace

std::vector<Tensor> rnn_layer_embedded(RnnMode mode, const Tensor& x, const Tensor& w_ih,
                                       const Tensor& b_ih, bool swap01, const Tensor& h0,
                                       const Tensor& c0, const Tensor& w_hh,
                                       const Tensor& b_hh, bool reverse, bool batch_first_out,
                                       const char* name) {
  const bool lstm = mode == RnnMode::Lstm;
  const int64_t G = rnn_gate_count(mode);
  if (!w_hh.defined() || w_hh.dim() != 2 || !w_ih.defined() || w_ih.dim() != 2 ||
      w_ih.sizes()[0] != G * w_hh.sizes()[1] ||
      (b_ih.defined() && (b_ih.dim() != 1 || b_ih.sizes()[0] != w_ih.sizes()[0] ||
                          b_ih.dtype() != w_ih.dtype() || !b_ih.device().is_cpu())))
    return {};
  EmbeddingRows rows;
  if (!embedding_rows(x, w_ih, swap01, rows)) return {};
  Tensor xp = distinct_products(x, w_ih, rows);
  if (b_ih.defined()) {
    autograd::NoGradGuard no_grad;
    xp = add(xp, detach(b_ih));
  }
  const Shape tb = swap01 ? Shape{rows.d1, rows.d0} : Shape{rows.d0, rows.d1};
  auto run = std::make_shared<LayerRun>();
  std::vector<Tensor> saved;
  std::vector<Tensor> outs = forward_layer(mode, xp, reshape(rows.group, tb), h0, c0, w_hh,
                                           b_hh, reverse, {}, name, *run, saved,
                                           batch_first_out);
  auto node = std::make_shared<EmbeddedLayerBackward>();
  for (const Tensor* t : {&h0, &c0, &w_hh, &b_hh})
    node->next_edges.push_back(t->defined() && (lstm || t != &c0) ? autograd::gradient_edge(*t)
                                                                   : autograd::Edge());
  node->next_edges.push_back(autograd::gradient_edge(x));
  node->next_edges.push_back(rows.source->next_edges[0]);
  node->next_edges.push_back(autograd::gradient_edge(w_ih));
  node->next_edges.push_back(b_ih.defined() ? autograd::gradient_edge(b_ih) : autograd::Edge());
  node->run = run;
  for (const Tensor& t : saved) node->saved.emplace_back(t, false);
  node->x = autograd::SavedTensor(x, false);
  node->w_ih = autograd::SavedTensor(w_ih, false);
  node->rows = std::move(rows);
  autograd::set_history(outs[0], node);
  autograd::set_history(outs[1], node);
  if (lstm) autograd::set_history(outs[2], node);
  return outs;
}

int rnn_gemm_isa(int level) {
  return level >= 0 ? cpu::set_gemm_packed_isa(level) : cpu::gemm_packed_isa();
}

Tensor rnn_packed_gemm(const Tensor& a, const Tensor& b, const Tensor& c) {
  const char* nm = "_rnn_packed_gemm";
  RV_CHECK_TYPE(a.dtype() == DType::Float32 || a.dtype() == DType::Float64, nm,
                ": expected float32 or float64, got ", a.describe());
  RV_CHECK(a.dim() == 2 && b.dim() == 2 && a.sizes()[1] == b.sizes()[0], nm,
           ": expected a [M, K] and b [K, N], got ", a.describe(), " and ", b.describe());
  const int64_t M = a.sizes()[0], K = a.sizes()[1], N = b.sizes()[1];
  RV_CHECK(!c.defined() || c.sizes() == Shape({M, N}), nm, ": expected c of shape ",
           shape_str({M, N}), ", got ", c.describe());
  for (const Tensor* t : {&b, &c}) {
    if (!t->defined()) continue;
    RV_CHECK_TYPE(t->dtype() == a.dtype(), nm, ": expected every tensor of dtype ",
                  dtype_name(a.dtype()), ", got ", t->describe());
  }
  for (const Tensor* t : {&a, &b, &c}) {
    RV_CHECK(!t->defined() || t->device().is_cpu(), nm,
             ": expected CPU tensors, got ", t->describe());
  }
  Tensor ac = prep(a), bc = prep(b);
  Tensor out = c.defined() ? contiguous_clone(detach(c)) : empty({M, N}, a.dtype(), a.device());
  cpu::gemm_packed_full(a.dtype() == DType::Float64, M, N, K, ptr(ac), ptr(bc), mptr(out),
                        c.defined());
  return out;
}

}  // namespace ranvier
