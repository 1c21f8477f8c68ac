// Random factories and in-place fills drawn from a Generator (the default one when null).
#pragma once
#include <memory>

#include "core/dispatch.h"
#include "core/generator.h"
#include "core/tensor.h"

namespace ranvier {

using GeneratorPtr = std::shared_ptr<Generator>;

Tensor rand(const Shape& sizes, DType dtype = DType::Float32, Device device = Device(),
            const GeneratorPtr& gen = nullptr);
Tensor randn(const Shape& sizes, DType dtype = DType::Float32, Device device = Device(),
             const GeneratorPtr& gen = nullptr);
// Integers uniform in [low, high).
Tensor randint(int64_t low, int64_t high, const Shape& sizes, DType dtype = DType::Int64,
               Device device = Device(), const GeneratorPtr& gen = nullptr);
Tensor randperm(int64_t n, DType dtype = DType::Int64, Device device = Device(),
                const GeneratorPtr& gen = nullptr);
// Each element 1 with probability p[i] (p in [0, 1]); same dtype and shape as p.
Tensor bernoulli(const Tensor& p, const GeneratorPtr& gen = nullptr);
Tensor& bernoulli_(Tensor& t, double p, const GeneratorPtr& gen = nullptr);
Tensor& uniform_(Tensor& t, double from = 0.0, double to = 1.0, const GeneratorPtr& gen = nullptr);
Tensor& normal_(Tensor& t, double mean = 0.0, double std = 1.0, const GeneratorPtr& gen = nullptr);

enum class RandomDist : int8_t { Uniform, Normal, RandInt };
struct RandomRequest {
  RandomDist dist;
  uint64_t seed;
  uint64_t first_block;
  double a, b;  // Uniform [a, b); Normal mean a, std b; RandInt [a, b)
};
// Writes n contiguous values of dtype (float32, float64 or int64) into out.
using RandomKernel = void (*)(const RandomRequest& r, void* out, DType dtype, int64_t n);
extern KernelSlot<RandomKernel> random_kernel;
// Counter blocks a request of n values of this kind uses.
uint64_t random_blocks(RandomDist dist, DType dtype, int64_t n);

}  // namespace ranvier
