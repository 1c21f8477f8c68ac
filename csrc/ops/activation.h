// Elementwise activations: relu, gelu (exact or tanh approximation), silu, softplus. They run
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

}  // namespace ranvier
