// One training step of the `mlp` workload (784-512-256-10, batch 128, cross-entropy, SGD with
// momentum 0.9) written against the C++ API with raw ops, as benchmarks/workloads.py does.
#include <cmath>
#include <cstdio>
#include <vector>

#include <ranvier.h>

#include "bench_common.h"

using namespace ranvier;

int main(int argc, char** argv) {
  set_num_threads(bench::threads_from_args(argc, argv));
  default_generator()->manual_seed(0);
  const int64_t sizes[] = {784, 512, 256, 10};
  const int64_t batch = 128;
  std::vector<Tensor> params, velocity;
  for (int i = 0; i < 3; ++i) {
    double bound = 1.0 / std::sqrt(double(sizes[i]));
    Tensor w = mul(sub(mul(rand({sizes[i], sizes[i + 1]}), Scalar(2.0)), Scalar(1.0)), Scalar(bound));
    Tensor b = mul(sub(mul(rand({sizes[i + 1]}), Scalar(2.0)), Scalar(1.0)), Scalar(bound));
    params.push_back(w.set_requires_grad(true));
    params.push_back(b.set_requires_grad(true));
  }
  for (auto& p : params) velocity.push_back(zeros_like(p));
  Tensor x = randn({batch, 784});
  Tensor y = randint(0, 10, {batch});

  auto step = [&] {
    for (auto& p : params) p.set_grad(Tensor());
    Tensor h = x;
    for (int i = 0; i < 3; ++i) {
      h = add(matmul(h, params[2 * i]), params[2 * i + 1]);
      if (i < 2) h = relu(h);
    }
    Tensor lse = logsumexp(h, {1});
    Tensor picked = squeeze(gather(h, 1, unsqueeze(y, 1)), {1});
    Tensor loss = mean(sub(lse, picked));
    autograd::backward({loss}, {}, false, false);
    autograd::NoGradGuard ng;
    for (size_t k = 0; k < params.size(); ++k) {
      mul_(velocity[k], Scalar(0.9));
      add_(velocity[k], params[k].grad());
      sub_(params[k], mul(velocity[k], Scalar(0.01)));
    }
  };
  double t = bench::median_seconds(step);
  std::printf("mlp train step (raw ops, C++)  %8.0f samples/s  (%.3f ms/step)\n",
              double(batch) / t, t * 1e3);
  return 0;
}
