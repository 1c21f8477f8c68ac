// rnn_layer (see rnn.h): checks naming the layer and the shapes, the fused forward kernel and
// one backward node running the fused back-through-time kernel.
#include "ops/rnn.h"

#include "autograd/function.h"
#include "kernels/cpu/gemm_packed.h"
#include "ops/copy.h"
#include "ops/factory.h"

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

std::vector<Tensor> rnn_layer(RnnMode mode, const Tensor& xp, const Tensor& h0,
                              const Tensor& c0, const Tensor& w_hh, const Tensor& b_hh,
                              bool reverse, const std::vector<int64_t>& lengths,
                              const char* name) {
  const bool lstm = mode == RnnMode::Lstm;
  const int64_t G = rnn_gate_count(mode);
  RV_CHECK_TYPE(xp.dtype() == DType::Float32 || xp.dtype() == DType::Float64, name,
                ": expected a float32 or float64 input, got ", xp.describe());
  RV_CHECK(w_hh.dim() == 2 && w_hh.sizes()[0] == G * w_hh.sizes()[1], name,
           ": expected weight_hh of shape [", G, "*hidden_size, hidden_size], got ",
           w_hh.describe());
  const int64_t H = w_hh.sizes()[1];
  RV_CHECK(xp.dim() == 3 && xp.sizes()[2] == G * H, name,
           ": expected input projections of shape [T, B, ", G * H, "], got ", xp.describe());
  const int64_t T = xp.sizes()[0], B = xp.sizes()[1];
  RV_CHECK(h0.defined() && h0.dim() == 2 && h0.sizes() == Shape({B, H}), name,
           ": expected hidden state h0 of shape ", shape_str({B, H}), " for input projections ",
           shape_str(xp.sizes()), ", got ", h0.defined() ? h0.describe() : "None");
  if (lstm) {
    RV_CHECK(c0.defined() && c0.dim() == 2 && c0.sizes() == Shape({B, H}), name,
             ": expected cell state c0 of shape ", shape_str({B, H}), " for input projections ",
             shape_str(xp.sizes()), ", got ", c0.defined() ? c0.describe() : "None");
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
  Tensor y = empty({T, B, H}, dt, dev);
  Tensor hn = empty({B, H}, dt, dev);
  Tensor cn = lstm ? empty({B, H}, dt, dev) : Tensor();
  Tensor ws = empty({T, B, rnn_saved_width(mode, H)}, dt, dev);
  Tensor hp = empty({T, B, H}, dt, dev);
  auto lens = std::make_shared<std::vector<int64_t>>(lengths);
  RnnSpec spec;
  spec.mode = mode;
  spec.is_double = dt == DType::Float64;
  spec.reverse = reverse;
  spec.t = T;
  spec.b = B;
  spec.h = H;
  spec.lengths = lens->empty() ? nullptr : lens->data();
  spec.xp = ptr(xc);
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

  std::vector<Tensor> outs{y, hn, cn};
  if (!autograd::needs_grad({xp, h0, c0, w_hh, b_hh})) return outs;
  std::vector<Tensor*> recorded{&outs[0], &outs[1]};
  if (lstm) recorded.push_back(&outs[2]);
  autograd::record(lstm ? "LstmLayerBackward0" : mode == RnnMode::Gru ? "GruLayerBackward0"
                                                                      : "RnnLayerBackward0",
                   {xp, h0, lstm ? c0 : Tensor(), w_hh, b_hh}, recorded, {wc, ws, hp}, {},
                   [=](BackwardContext& ctx) {
    RV_CHECK_NOT_IMPLEMENTED(!autograd::GradMode::is_enabled(), name,
                             ": double backward is not supported");
    Tensor sw = ctx.saved(0), sws = ctx.saved(1), shp = ctx.saved(2);
    Tensor dy = contiguous(to_dtype(ctx.grad(0), dt));
    Tensor dhn = contiguous(to_dtype(ctx.grad(1), dt));
    Tensor dcn = lstm ? contiguous(to_dtype(ctx.grad(2), dt)) : Tensor();
    Tensor dxp = empty({T, B, G * H}, dt, dev);
    Tensor dh0 = empty({B, H}, dt, dev);
    Tensor dc0 = lstm ? empty({B, H}, dt, dev) : Tensor();
    Tensor dw = empty({G * H, H}, dt, dev);
    Tensor db = empty({G * H}, dt, dev);
    RnnSpec s = spec;
    s.lengths = lens->empty() ? nullptr : lens->data();
    s.w_hh = ptr(sw);
    s.ws = mptr(sws);
    s.hp = mptr(shp);
    s.xp = s.h0 = s.c0 = s.b_hh = nullptr;
    s.y = s.hn = s.cn = nullptr;
    s.dy = ptr(dy);
    s.dhn = ptr(dhn);
    s.dcn = ptr(dcn);
    s.dxp = mptr(dxp);
    s.dh0 = mptr(dh0);
    s.dc0 = mptr(dc0);
    s.dw_hh = mptr(dw);
    s.db_hh = mptr(db);
    rnn_backward_kernel.get(dev, name)(s);
    return TensorList{ctx.needs(0) ? dxp : Tensor(), ctx.needs(1) ? dh0 : Tensor(),
                      ctx.needs(2) ? dc0 : Tensor(), ctx.needs(3) ? dw : Tensor(),
                      ctx.needs(4) ? db : Tensor()};
  });
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
