// One training step of the `cnn` workload of benchmarks/workloads.py from C++:
// Conv2d(1,32,3,pad 1)-ReLU-MaxPool2d(2)-Conv2d(32,64,3,pad 1)-ReLU-MaxPool2d(2)-Flatten-
// Linear(3136,128)-ReLU-Linear(128,10) on a batch of 64 1x28x28 images, the fused
// cross_entropy and the fused SGD step (lr 0.01, momentum 0.9): the ops the Python layers call.
#include <vector>

#include <ops/activation.h>
#include <ops/conv.h>
#include <ops/loss.h>
#include <ops/pool.h>
#include <ranvier.h>

#include "bench_common.h"

using namespace ranvier;

int main(int argc, char** argv) {
  bench::Options o = bench::parse_options(argc, argv);
  set_num_threads(o.threads);
  default_generator()->manual_seed(0);
  const int64_t batch = 64;
  // draws in the order of the Python model's construction
  std::vector<Tensor> c1 = bench::init_conv2d(1, 32, 3);
  std::vector<Tensor> c2 = bench::init_conv2d(32, 64, 3);
  std::vector<Tensor> l1 = bench::init_linear(3136, 128);
  std::vector<Tensor> l2 = bench::init_linear(128, 10);
  std::vector<Tensor> params = {c1[0], c1[1], c2[0], c2[1], l1[0], l1[1], l2[0], l2[1]};
  Tensor x = randn({batch, 1, 28, 28});
  Tensor y = randint(0, 10, {batch});
  bench::Sgd opt(params, 0.01, 0.9);

  auto conv_block = [](const Tensor& in, const std::vector<Tensor>& c) {
    Tensor h = relu(conv2d(in, c[0], c[1], {1, 1}, {1, 1}, {1, 1}, 1));
    return std::get<0>(max_pool2d(h, {2, 2}, {2, 2}, {0, 0}, {1, 1}, false));
  };
  return bench::run_training(o, "cnn", "C++", "images", double(batch), [&] {
    bench::zero_grad(params);
    Tensor h = flatten(conv_block(conv_block(x, c1), c2), 1, -1);
    h = linear(relu(linear(h, l1[0], l1[1])), l2[0], l2[1]);
    Tensor loss = cross_entropy(h, y, Tensor(), Reduction::Mean, -100, 0.0);
    autograd::backward({loss}, {}, false, false);
    opt.step();
    return bench::item(loss);
  });
}
