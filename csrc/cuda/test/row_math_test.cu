// Host-side test of the CUDA row kernels' math (kernels/cuda/{softmax,loss,norm,gelu}.cuh),
// compiled with nvcc and run on the CPU: each row function runs for every lane of a 32-lane
// (warp) and a 256-lane (block) fold, exactly as the device would combine, and its results
// are compared with the CPU kernels (called through their slots in libranvier): softmax /
// log_softmax forward and backward, cross_entropy forward and backward (weights, ignore_index,
// label smoothing, inner > 1, a bad target), batch_norm forward (training / eval) and
// backward, layer_norm forward and backward, gelu forward and backward.
// Built and run by .ci/cuda_build_check.
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "kernels/cuda/gelu.cuh"
#include "kernels/cuda/loss.cuh"
#include "kernels/cuda/norm.cuh"
#include "kernels/cuda/softmax.cuh"
#include "ops/gelu_grad.h"
#include "cuda/test/check.h"

using namespace ranvier;
using namespace ranvier::cuda;
using reduce_math::HostFold;


static const Device kCpu(DeviceType::CPU);

template <typename T>
static std::vector<T> randv(size_t n, unsigned seed, double lo = -3, double hi = 3) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> d(lo, hi);
  std::vector<T> v(n);
  for (auto& x : v) x = T(d(rng));
  return v;
}

template <typename T>
static void expect_close(const std::vector<T>& got, const std::vector<T>& exp, double tol,
                         const char* what) {
  int bad = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    double g = double(got[i]), e = double(exp[i]);
    if (std::isnan(g) && std::isnan(e)) continue;
    if (!(std::fabs(g - e) <= tol * (1 + std::fabs(e)))) {
      if (!bad) CHECK(false, "%s[%zu]: %.17g vs %.17g", what, i, g, e);
      ++bad;
    }
  }
}

// Runs fn(row, fold) for every row and every lane of an L-lane host fold.
template <int L, typename Fn>
static void run_rows(int64_t rows, const Fn& fn) {
  for (int64_t r = 0; r < rows; ++r)
    for (int lane = 0; lane < L; ++lane) fn(r, HostFold<L>{lane});
}

template <typename T, int L>
static void test_softmax(DType dt, double tol) {
  const int64_t outer = 3, n = 300, inner = 2;
  const size_t total = static_cast<size_t>(outer * n * inner);
  for (int log = 0; log < 2; ++log) {
    std::vector<T> x = randv<T>(total, 1, -20, 20), g = randv<T>(total, 2);
    x[7] = T(NAN);  // a NaN row
    SoftmaxSpec s{dt, outer, n, inner, bool(log), x.data(), nullptr, nullptr};
    std::vector<T> yc(total), yg(total), gc(total), gg(total);
    s.out = yc.data();
    softmax_forward_kernel.get(kCpu, "t")(s);
    s.out = yg.data();
    run_rows<L>(outer * inner, [&](int64_t r, const auto& f) { softmax_math::forward_row<T>(s, r, f); });
    expect_close(yg, yc, tol, log ? "log_softmax" : "softmax");
    SoftmaxSpec b{dt, outer, n, inner, bool(log), yc.data(), g.data(), gc.data()};
    softmax_backward_kernel.get(kCpu, "t")(b);
    b.out = gg.data();
    run_rows<L>(outer * inner, [&](int64_t r, const auto& f) { softmax_math::backward_row<T>(b, r, f); });
    expect_close(gg, gc, tol, log ? "log_softmax backward" : "softmax backward");
  }
}

template <typename T, int L>
static void test_cross_entropy(DType dt, double tol) {
  for (int variant = 0; variant < 4; ++variant) {
    const int64_t n = 5, c = variant == 3 ? 1000 : 7, inner = variant == 2 ? 3 : 1;
    std::vector<T> z = randv<T>(static_cast<size_t>(n * c * inner), 3, -5, 5), w = randv<T>(static_cast<size_t>(c), 4, 0.1, 2);
    std::vector<int64_t> t(static_cast<size_t>(n * inner));
    for (size_t i = 0; i < t.size(); ++i) t[i] = int64_t((i * 3) % static_cast<size_t>(c));
    t[1] = -100;  // ignored
    CrossEntropySpec s;
    s.dtype = dt;
    s.n = n; s.c = c; s.inner = inner;
    s.logits = z.data();
    s.target = t.data();
    s.weight = variant == 1 || variant == 2 ? w.data() : nullptr;
    s.smoothing = variant >= 1 ? 0.15 : 0.0;
    std::vector<T> lc(t.size()), wc(t.size()), lg(t.size()), wg(t.size());
    s.loss = lc.data(); s.wt = wc.data();
    cross_entropy_forward_kernel.get(kCpu, "t")(s);
    s.loss = lg.data(); s.wt = wg.data();
    bool ok = true;
    run_rows<L>(n * inner, [&](int64_t r, const auto& f) { ok = loss_math::forward_row<T>(s, r, f) && ok; });
    CHECK(ok, "valid targets reported bad");
    expect_close(lg, lc, tol, "cross_entropy loss");
    expect_close(wg, wc, 0, "cross_entropy weight");
    std::vector<T> g = randv<T>(t.size(), 5), gc(z.size()), gg(z.size());
    s.grad = g.data();
    s.grad_in = gc.data();
    cross_entropy_backward_kernel.get(kCpu, "t")(s);
    s.grad_in = gg.data();
    run_rows<L>(n * inner, [&](int64_t r, const auto& f) { loss_math::backward_row<T>(s, r, f); });
    expect_close(gg, gc, tol, "cross_entropy backward");
    t[2] = c;  // out of range: the row reports it
    HostFold<L> f0{0};
    CHECK(!loss_math::forward_row<T>(s, 2, f0), "bad target not reported");
  }
}

template <typename T, int L>
static void test_norms(DType dt, double tol) {
  const int64_t n = 4, c = 3, sp = 50;
  const size_t total = static_cast<size_t>(n * c * sp);
  std::vector<T> x = randv<T>(total, 6, -2, 4), g = randv<T>(total, 7), w = randv<T>(static_cast<size_t>(c), 8),
                 b = randv<T>(static_cast<size_t>(c), 9);
  for (int training = 0; training < 2; ++training) {
    NormSpec p;
    p.dtype = dt;
    p.n = n; p.c = c; p.s = sp;
    p.eps = 1e-5;
    p.training = training;
    p.x = x.data(); p.weight = w.data(); p.bias = b.data();
    std::vector<T> mc = randv<T>(static_cast<size_t>(c), 10), mg = mc, ic(static_cast<size_t>(c)), ig(static_cast<size_t>(c)),
                   vin = randv<T>(static_cast<size_t>(c), 11, 0.5, 2), vc(static_cast<size_t>(c)), vg(static_cast<size_t>(c)), yc(total),
                   yg(total);
    p.var_in = vin.data();
    p.mean = mc.data(); p.invstd = ic.data(); p.var_unbiased = training ? vc.data() : nullptr;
    p.y = yc.data();
    batch_norm_forward_kernel.get(kCpu, "t")(p);
    p.mean = mg.data(); p.invstd = ig.data(); p.var_unbiased = training ? vg.data() : nullptr;
    p.y = yg.data();
    run_rows<L>(c, [&](int64_t r, const auto& f) { norm_math::bn_forward_channel<T>(p, r, f); });
    expect_close(yg, yc, tol, "batch_norm y");
    expect_close(mg, mc, tol, "batch_norm mean");
    expect_close(ig, ic, tol, "batch_norm invstd");
    if (training) expect_close(vg, vc, tol, "batch_norm var");
    std::vector<T> gxc(total), gxg(total), gwc(static_cast<size_t>(c)), gwg(static_cast<size_t>(c)), gbc(static_cast<size_t>(c)), gbg(static_cast<size_t>(c));
    p.mean = mc.data(); p.invstd = ic.data(); p.grad = g.data();
    p.grad_x = gxc.data(); p.grad_w = gwc.data(); p.grad_b = gbc.data();
    batch_norm_backward_kernel.get(kCpu, "t")(p);
    p.grad_x = gxg.data(); p.grad_w = gwg.data(); p.grad_b = gbg.data();
    run_rows<L>(c, [&](int64_t r, const auto& f) { norm_math::bn_backward_channel<T>(p, r, f); });
    expect_close(gxg, gxc, tol, "batch_norm grad_x");
    expect_close(gwg, gwc, tol, "batch_norm grad_w");
    expect_close(gbg, gbc, tol, "batch_norm grad_b");
  }
  // layer_norm over rows of k = 150
  const int64_t rows = 4, k = 150;
  std::vector<T> lw = randv<T>(static_cast<size_t>(k), 12), lb = randv<T>(static_cast<size_t>(k), 13);
  NormSpec p;
  p.dtype = dt;
  p.n = rows; p.c = k; p.s = 1;
  p.eps = 1e-5;
  p.x = x.data(); p.weight = lw.data(); p.bias = lb.data();
  std::vector<T> mc(static_cast<size_t>(rows)), mg(static_cast<size_t>(rows)), ic(static_cast<size_t>(rows)), ig(static_cast<size_t>(rows)),
      yc(static_cast<size_t>(rows * k)), yg(static_cast<size_t>(rows * k));
  p.mean = mc.data(); p.invstd = ic.data(); p.y = yc.data();
  layer_norm_forward_kernel.get(kCpu, "t")(p);
  p.mean = mg.data(); p.invstd = ig.data(); p.y = yg.data();
  run_rows<L>(rows, [&](int64_t r, const auto& f) { norm_math::ln_forward_row<T>(p, r, f); });
  expect_close(yg, yc, tol, "layer_norm y");
  expect_close(mg, mc, tol, "layer_norm mean");
  expect_close(ig, ic, tol, "layer_norm invstd");
  std::vector<T> gxc(static_cast<size_t>(rows * k)), gxg(static_cast<size_t>(rows * k)), gwc(static_cast<size_t>(k)), gwg(static_cast<size_t>(k)),
      gbc(static_cast<size_t>(k)), gbg(static_cast<size_t>(k));
  p.mean = mc.data(); p.invstd = ic.data(); p.grad = g.data();
  p.grad_x = gxc.data(); p.grad_w = gwc.data(); p.grad_b = gbc.data();
  layer_norm_backward_kernel.get(kCpu, "t")(p);
  p.grad_x = gxg.data(); p.grad_w = gwg.data(); p.grad_b = gbg.data();
  run_rows<L>(rows, [&](int64_t r, const auto& f) { norm_math::ln_backward_row<T>(p, r, f); });
  run_rows<L>(k, [&](int64_t j, const auto& f) { norm_math::ln_param_column<T>(p, j, f); });
  expect_close(gxg, gxc, tol, "layer_norm grad_x");
  expect_close(gwg, gwc, tol, "layer_norm grad_w");
  expect_close(gbg, gbc, tol, "layer_norm grad_b");
}

template <typename T>
static void test_gelu(DType dt, double tol) {
  const size_t n = 2001;
  std::vector<T> x = randv<T>(n, 14, -9, 9), g = randv<T>(n, 15);
  for (int tanh_form = 0; tanh_form < 2; ++tanh_form)
    for (int fwd = 0; fwd < 2; ++fwd) {
      GeluGradSpec s;
      s.dtype = dt;
      s.tanh_form = tanh_form;
      s.forward = fwd;
      s.n = int64_t(n);
      s.grad = g.data();
      s.x = x.data();
      std::vector<T> c(n), d(n);
      s.out = c.data();
      gelu_backward_kernel.get(kCpu, "t")(s);
      for (size_t i = 0; i < n; ++i)
        d[i] = fwd ? gelu_math::forward(bool(tanh_form), x[i]) : gelu_math::backward(bool(tanh_form), g[i], x[i]);
      expect_close(d, c, tol, "gelu");
    }
}

int main() {
  test_softmax<float, 32>(DType::Float32, 2e-6);
  test_softmax<double, 256>(DType::Float64, 1e-13);
  test_softmax<float, 256>(DType::Float32, 2e-6);
  test_cross_entropy<float, 32>(DType::Float32, 2e-5);
  test_cross_entropy<double, 32>(DType::Float64, 1e-12);
  test_cross_entropy<double, 256>(DType::Float64, 1e-12);
  test_norms<float, 32>(DType::Float32, 2e-6);
  test_norms<double, 256>(DType::Float64, 1e-12);
  test_gelu<float>(DType::Float32, 2e-6);
  test_gelu<double>(DType::Float64, 1e-14);
  if (failures) {
    std::printf("row_math_test: %d failure(s)\n", failures);
    return 1;
  }
  std::printf("row_math_test: ok\n");
  return 0;
}
