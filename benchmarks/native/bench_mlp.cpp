// One training step of the `mlp` workload of benchmarks/workloads.py from C++: Linear(784,512)-
// ReLU-Linear(512,256)-ReLU-Linear(256,10) on a batch of 128, the fused cross_entropy and the
// fused SGD step (lr 0.01, momentum 0.9): the ops nn.Linear, F.cross_entropy and optim.SGD
// call. --raw runs `mlp-raw` instead: matmul, relu, a hand-written log-softmax cross-entropy
// and a manual momentum update, op for op as workloads.mlp_raw writes them.
#include <cmath>
#include <vector>

#include <ops/activation.h>
#include <ops/loss.h>
#include <ranvier.h>

#include "bench_common.h"

using namespace ranvier;

namespace {

int run_layers(const bench::Options& o) {
  const int64_t batch = 128, sizes[] = {784, 512, 256, 10};
  std::vector<Tensor> params;
  for (int i = 0; i < 3; ++i)
    for (const Tensor& p : bench::init_linear(sizes[i], sizes[i + 1])) params.push_back(p);
  Tensor x = randn({batch, 784});
  Tensor y = randint(0, 10, {batch});
  bench::Sgd opt(params, 0.01, 0.9);

  return bench::run_training(o, "mlp", "C++", "samples", double(batch), [&] {
    bench::zero_grad(params);
    Tensor h = x;
    for (int i = 0; i < 3; ++i) {
      h = linear(h, params[2 * i], params[2 * i + 1]);
      if (i < 2) h = relu(h);
    }
    Tensor loss = cross_entropy(h, y, Tensor(), Reduction::Mean, -100, 0.0);
    autograd::backward({loss}, {}, false, false);
    opt.step();
    return bench::item(loss);
  });
}

int run_raw(const bench::Options& o) {
  const int64_t batch = 128, sizes[] = {784, 512, 256, 10};
  std::vector<Tensor> params, velocity;
  for (int i = 0; i < 3; ++i) {
    // (rand * 2 - 1) * bound with bound = 1 / sqrt(fan_in), weight stored [in, out]
    double bound = 1.0 / std::pow(double(sizes[i]), 0.5);
    Tensor w = mul(sub(mul(rand({sizes[i], sizes[i + 1]}), Scalar(2)), Scalar(1)), Scalar(bound));
    Tensor b = mul(sub(mul(rand({sizes[i + 1]}), Scalar(2)), Scalar(1)), Scalar(bound));
    params.push_back(w.set_requires_grad(true));
    params.push_back(b.set_requires_grad(true));
  }
  for (auto& p : params) velocity.push_back(zeros_like(p));
  Tensor x = randn({batch, 784});
  Tensor y = randint(0, 10, {batch});

  return bench::run_training(o, "mlp", "raw ops, C++", "samples", double(batch), [&] {
    bench::zero_grad(params);
    Tensor h = x;
    for (int i = 0; i < 3; ++i) {
      h = add(matmul(h, params[2 * i]), params[2 * i + 1]);
      if (i < 2) h = relu(h);
    }
    // logsumexp(logits) - logits[label], averaged; the max is a constant (detached)
    Tensor m = detach(max(h, 1, true).values);
    Tensor lse = add(log(sum(exp(sub(h, m)), {1})), squeeze(m, {1}));
    Tensor picked = squeeze(gather(h, 1, unsqueeze(y, 1)), {1});
    Tensor loss = mean(sub(lse, picked));
    autograd::backward({loss}, {}, false, false);
    {
      autograd::NoGradGuard ng;
      for (size_t k = 0; k < params.size(); ++k) {
        mul_(velocity[k], Scalar(0.9));
        add_(velocity[k], params[k].grad());
        sub_(params[k], mul(velocity[k], Scalar(0.01)));
      }
    }
    return bench::item(loss);
  });
}

}  // namespace

int main(int argc, char** argv) {
  bench::Options o = bench::parse_options(argc, argv, /*allow_raw=*/true);
  set_num_threads(o.threads);
  default_generator()->manual_seed(0);
  return o.raw ? run_raw(o) : run_layers(o);
}
