// Elementwise activations: relu, leaky_relu, gelu (exact or tanh approximation), silu,
// softplus. They run
// on the unary kernel slot; their backward is written with ops (double backward works).
#pragma once
#include <string>

#include "core/tensor.h"

namespace ranvier {

enum class GeluApproximate : int8_t { None, Tanh };
// Parses 'none' / 'tanh'; RuntimeError otherwise.
GeluApproximate parse_gelu_approximate(const std::string& s);

Tensor relu(const Tensor& t);
Tensor& relu_(Tensor& t);
Tensor gelu(const Tensor& t, GeluApproximate approximate = GeluApproximate::None);
Tensor silu(const Tensor& t);
Tensor& silu_(Tensor& t);
// log(1 + exp(beta * x)) / beta, and x itself where beta * x > threshold.
Tensor softplus(const Tensor& t, double beta = 1.0, double threshold = 20.0);
// x where x > 0, else negative_slope * x (one pass; the gradient is 1 or negative_slope).
Tensor leaky_relu(const Tensor& t, double negative_slope = 0.01);

}  // namespace ranvier
