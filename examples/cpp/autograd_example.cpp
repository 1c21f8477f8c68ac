// Builds tensors with the ranvier C++ API, runs a backward pass and prints the gradient.
// y = sum(w * x + w * w)  =>  dy/dw = x + 2w
#include <cstdio>

#include <ranvier.h>

int main() {
  using namespace ranvier;
  Tensor x = arange(Scalar(int64_t(0)), Scalar(int64_t(4)), Scalar(int64_t(1)), DType::Float32);
  Tensor w = full({4}, Scalar(0.5), DType::Float32);
  w.set_requires_grad(true);
  Tensor y = sum(add(mul(w, x), mul(w, w)));
  autograd::backward({y}, {}, /*retain_graph=*/false, /*create_graph=*/false);
  const float* g = w.grad().data<float>();
  std::printf("y = %.2f\n", *y.data<float>());
  std::printf("dy/dw = [%.2f, %.2f, %.2f, %.2f]\n", g[0], g[1], g[2], g[3]);
  // expected: x + 2w = [1, 2, 3, 4]
  for (int i = 0; i < 4; ++i)
    if (g[i] != float(i) + 1.0f) {
      std::printf("unexpected gradient\n");
      return 1;
    }
  return 0;
}
