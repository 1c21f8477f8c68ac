// Shared plumbing of the native benchmarks: median timing after warm-up, the command line
// (--threads N, --steps N, --check, --raw) and the training-step driver that times a step,
// prints the one-line result and guards the loss (finite and lower than the first step's).
// The init helpers reproduce the Python layers' default initialisation draw for draw (same
// generator, same bounds computed the same way), so a C++ model starts from the Python one's
// weights when both seed the default generator alike.
#pragma once
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <ranvier.h>
#include <ops/embedding.h>
#include <ops/optim.h>

namespace bench {

template <typename F>
double median_seconds(F&& f, int steps = 15, int warmup = 3) {
  for (int i = 0; i < warmup; ++i) f();
  std::vector<double> t;
  for (int i = 0; i < steps; ++i) {
    auto a = std::chrono::steady_clock::now();
    f();
    auto b = std::chrono::steady_clock::now();
    t.push_back(std::chrono::duration<double>(b - a).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

inline int threads_from_args(int argc, char** argv) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::string(argv[i]) == "--threads") return std::atoi(argv[i + 1]);
  return 2;
}

// Command line of the training benchmarks.
struct Options {
  int threads = 2;
  int steps = 15;   // timed steps (after `warmup` untimed ones)
  int warmup = 3;
  bool check = false;  // print each step's loss (no timing) and stop
  bool raw = false;    // bench_mlp only: the raw-op variant (mlp-raw)
};

inline Options parse_options(int argc, char** argv, bool allow_raw = false) {
  Options o;
  auto usage = [&](const char* why) {
    std::fprintf(stderr, "%s: %s\nusage: %s [--threads N] [--steps N] [--check]%s\n", argv[0],
                 why, argv[0], allow_raw ? " [--raw]" : "");
    std::exit(2);
  };
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--threads" || a == "--steps") {
      if (i + 1 >= argc) usage("missing value");
      char* end = nullptr;
      long v = std::strtol(argv[++i], &end, 10);
      if (*end != '\0' || v < 1) usage("expected a positive integer");
      (a == "--threads" ? o.threads : o.steps) = int(v);
    } else if (a == "--check") {
      o.check = true;
    } else if (a == "--raw" && allow_raw) {
      o.raw = true;
    } else {
      usage(("unknown argument " + a).c_str());
    }
  }
  return o;
}

// The value of a one-element float tensor.
inline double item(const ranvier::Tensor& t) {
  return double(*static_cast<const float*>(ranvier::contiguous(t).data_ptr()));
}

// Runs a training benchmark. step() runs one whole training step and returns its loss.
// --check: prints "step K loss X" for K = 1..steps and returns 0. Otherwise: warm-up steps,
// then timed steps; prints "<name> train step (<how>)  <rate> <unit>/s  (<ms> ms/step)  loss
// <first> -> <last>" and returns 1 (with a message on stderr) unless every loss is finite and
// the last is lower than the first.
template <typename F>
int run_training(const Options& o, const char* name, const char* how, const char* unit,
                 double units_per_step, F&& step) {
  if (o.check) {
    for (int i = 1; i <= o.steps; ++i) std::printf("step %d loss %.9g\n", i, step());
    return 0;
  }
  std::vector<double> losses, times;
  for (int i = 0; i < o.warmup; ++i) losses.push_back(step());
  for (int i = 0; i < o.steps; ++i) {
    auto a = std::chrono::steady_clock::now();
    double loss = step();
    auto b = std::chrono::steady_clock::now();
    losses.push_back(loss);
    times.push_back(std::chrono::duration<double>(b - a).count());
  }
  std::sort(times.begin(), times.end());
  double t = times[times.size() / 2];
  double first = losses.front(), last = losses.back();
  std::printf("%s train step (%s)  %8.0f %s/s  (%.3f ms/step)  loss %.4f -> %.4f\n", name, how,
              units_per_step / t, unit, t * 1e3, first, last);
  bool finite =
      std::all_of(losses.begin(), losses.end(), [](double v) { return std::isfinite(v); });
  if (!finite || !(last < first)) {
    std::fprintf(stderr, "%s: loss check failed: %s (first %.6g, last %.6g over %zu steps)\n",
                 name, finite ? "the loss did not go down" : "a loss is not finite", first, last,
                 losses.size());
    return 1;
  }
  return 0;
}

// ---------------------------------------------------------------- default initialisation
// Each draws from the default generator in the order the Python layer does.

// A parameter of the given shape drawn from U(-bound, bound), requiring grad.
inline ranvier::Tensor uniform_param(const std::vector<int64_t>& shape, double bound) {
  ranvier::Tensor t = ranvier::empty(shape);
  ranvier::uniform_(t, -bound, bound);
  t.set_requires_grad(true);
  return t;
}

// nn.Linear(in, out): weight [out, in] from kaiming_uniform_(a=sqrt(5)) (bound 1/sqrt(in),
// computed as nn.init computes it), then bias [out] from U(-1/sqrt(in), 1/sqrt(in)).
inline std::vector<ranvier::Tensor> init_linear(int64_t in, int64_t out) {
  using namespace ranvier;
  double a = std::sqrt(5.0);
  double gain = std::sqrt(2.0 / (1 + std::pow(a, 2.0)));
  double wbound = std::sqrt(3.0) * (gain / std::sqrt(double(in)));
  double bbound = 1 / std::sqrt(double(in));
  Tensor w = uniform_param({out, in}, wbound);
  return {w, uniform_param({out}, bbound)};
}

// nn.Conv2d(cin, cout, k): weight [cout, cin, k, k] and bias [cout] from U(-1/sqrt(cin*k*k), ..).
inline std::vector<ranvier::Tensor> init_conv2d(int64_t cin, int64_t cout, int64_t k) {
  using namespace ranvier;
  double bound = 1.0 / std::sqrt(double(cin * k * k));
  Tensor w = uniform_param({cout, cin, k, k}, bound);
  return {w, uniform_param({cout}, bound)};
}

// nn.Embedding(num, dim): weight from N(0, 1).
inline ranvier::Tensor init_embedding(int64_t num, int64_t dim) {
  using namespace ranvier;
  Tensor w = empty({num, dim});
  normal_(w, 0.0, 1.0);
  w.set_requires_grad(true);
  return w;
}

// nn.LayerNorm(d): weight ones, bias zeros (no draws).
inline std::vector<ranvier::Tensor> init_layer_norm(int64_t d) {
  using namespace ranvier;
  Tensor w = ones({d}), b = zeros({d});
  w.set_requires_grad(true);
  b.set_requires_grad(true);
  return {w, b};
}

// nn.Embedding's forward: rows of weight picked by idx, shaped idx.shape + [dim].
inline ranvier::Tensor embedding(const ranvier::Tensor& weight, const ranvier::Tensor& idx) {
  return ranvier::embedding(weight, idx, -1);
}

// Sets every parameter's .grad to none (optimizer.zero_grad(set_to_none=True)).
inline void zero_grad(const std::vector<ranvier::Tensor>& params) {
  for (const auto& p : params) p.set_grad(ranvier::Tensor());
}

// The gradients of params, in order (all must have one).
inline std::vector<ranvier::Tensor> grads_of(const std::vector<ranvier::Tensor>& params) {
  std::vector<ranvier::Tensor> g;
  g.reserve(params.size());
  for (const auto& p : params) g.push_back(p.grad());
  return g;
}

// optim.SGD's state and step: momentum buffers created on the first step by sgd_step_.
struct Sgd {
  std::vector<ranvier::Tensor> params, bufs;
  double lr, momentum;
  Sgd(std::vector<ranvier::Tensor> p, double lr_, double momentum_)
      : params(std::move(p)), bufs(params.size()), lr(lr_), momentum(momentum_) {}
  void step() {
    bufs = ranvier::sgd_step_(params, grads_of(params), bufs, lr, momentum, 0.0, 0.0, false,
                              false);
  }
};

// optim.Adam / optim.AdamW's state (0-d float32 step counters, zero moments) and step.
struct Adam {
  std::vector<ranvier::Tensor> params, exp_avgs, exp_avg_sqs, steps;
  double lr, weight_decay;
  bool decoupled;
  Adam(std::vector<ranvier::Tensor> p, double lr_, double wd, bool decoupled_)
      : params(std::move(p)), lr(lr_), weight_decay(wd), decoupled(decoupled_) {
    for (const auto& q : params) {
      exp_avgs.push_back(ranvier::zeros_like(q));
      exp_avg_sqs.push_back(ranvier::zeros_like(q));
      steps.push_back(ranvier::zeros({}));
    }
  }
  void step() {
    ranvier::adam_step_(params, grads_of(params), exp_avgs, exp_avg_sqs, {}, steps, lr, 0.9,
                        0.999, 1e-8, weight_decay, false, false, decoupled);
  }
};

}  // namespace bench
