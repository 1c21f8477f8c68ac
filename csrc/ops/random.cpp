// Random factories and fills (see random.h). Values are generated contiguously in float32,
// float64 or int64 by the device kernel, then converted/copied into the destination.
#include "ops/random.h"

#include <algorithm>
#include <cmath>

#include "autograd/grad_mode.h"
#include "autograd/inplace.h"
#include "ops/binary.h"
#include "ops/copy.h"
#include "ops/factory.h"

namespace ranvier {

KernelSlot<RandomKernel> random_kernel{"random"};

uint64_t random_blocks(RandomDist dist, DType dtype, int64_t n) {
  uint64_t per = 4;
  if (dist == RandomDist::RandInt || dtype == DType::Float64) per = 2;
  return (uint64_t(n) + per - 1) / per;
}

namespace {

Generator& gen_or_default(const GeneratorPtr& g) { return g ? *g : *default_generator(); }

DType gen_dtype(RandomDist dist, DType target) {
  if (dist == RandomDist::RandInt) return DType::Int64;
  return target == DType::Float64 ? DType::Float64 : DType::Float32;
}

// Fills t (any layout) with n fresh values.
void fill_random(Tensor& t, RandomDist dist, double a, double b, const GeneratorPtr& g,
                 const char* op) {
  DType gd = gen_dtype(dist, t.dtype());
  int64_t n = t.numel();
  auto [seed, first] = gen_or_default(g).reserve(random_blocks(dist, gd, n));
  if (n == 0) return;
  RandomRequest r{dist, seed, first, a, b};
  bool direct = t.is_contiguous() && t.dtype() == gd;
  Tensor buf = direct ? t : empty(t.sizes(), gd, t.device());
  random_kernel.get(t.device(), op)(r, buf.data_ptr(), gd, n);
  if (!direct) {
    autograd::NoGradGuard ng;
    Tensor d = detach(t);
    copy_(d, buf);
  }
}

Tensor& random_inplace(Tensor& t, RandomDist dist, double a, double b, const GeneratorPtr& g,
                       const char* op) {
  autograd::check_inplace(t, op);
  fill_random(t, dist, a, b, g, op);
  t.bump_version();
  return t;
}

}  // namespace

Tensor& uniform_(Tensor& t, double from, double to, const GeneratorPtr& gen) {
  RV_CHECK_TYPE(is_floating(t.dtype()), "uniform_: expected a floating point tensor, got ",
                dtype_name(t.dtype()));
  RV_CHECK_VALUE(from <= to, "uniform_: expects to return a [from, to) range, but found from=",
                 from, " > to=", to);
  return random_inplace(t, RandomDist::Uniform, from, to, gen, "uniform_");
}

Tensor& normal_(Tensor& t, double mean, double std, const GeneratorPtr& gen) {
  RV_CHECK_TYPE(is_floating(t.dtype()), "normal_: expected a floating point tensor, got ",
                dtype_name(t.dtype()));
  RV_CHECK_VALUE(std >= 0.0, "normal_: expects std >= 0.0, but found std ", std);
  return random_inplace(t, RandomDist::Normal, mean, std, gen, "normal_");
}

Tensor rand(const Shape& sizes, DType dtype, Device device, const GeneratorPtr& gen) {
  RV_CHECK_TYPE(is_floating(dtype), "rand: expected a floating point dtype, got ", dtype_name(dtype));
  Tensor t = empty(sizes, dtype, device);
  fill_random(t, RandomDist::Uniform, 0.0, 1.0, gen, "rand");
  return t;
}

Tensor randn(const Shape& sizes, DType dtype, Device device, const GeneratorPtr& gen) {
  RV_CHECK_TYPE(is_floating(dtype), "randn: expected a floating point dtype, got ", dtype_name(dtype));
  Tensor t = empty(sizes, dtype, device);
  fill_random(t, RandomDist::Normal, 0.0, 1.0, gen, "randn");
  return t;
}

Tensor randint(int64_t low, int64_t high, const Shape& sizes, DType dtype, Device device,
               const GeneratorPtr& gen) {
  RV_CHECK_VALUE(low < high, "randint: expects 'from' to be less than 'to', but got from=", low,
                 " >= to=", high);
  Tensor t = empty(sizes, dtype, device);
  fill_random(t, RandomDist::RandInt, double(low), double(high), gen, "randint");
  return t;
}

Tensor randperm(int64_t n, DType dtype, Device device, const GeneratorPtr& gen) {
  RV_CHECK_VALUE(n >= 0, "randperm: n must be non-negative, got ", n);
  Tensor host = empty({n}, DType::Int64);
  int64_t* p = host.data<int64_t>();
  for (int64_t i = 0; i < n; ++i) p[i] = i;
  Generator& g = gen_or_default(gen);
  for (int64_t i = n - 1; i > 0; --i) {
    int64_t j = int64_t(g.next_u64() % uint64_t(i + 1));
    std::swap(p[i], p[j]);
  }
  Tensor out = empty({n}, dtype, device);
  copy_(out, host);
  return out;
}

Tensor bernoulli(const Tensor& p, const GeneratorPtr& gen) {
  RV_CHECK_TYPE(is_floating(p.dtype()), "bernoulli: expected a floating point tensor of "
                                        "probabilities, got ", dtype_name(p.dtype()));
  autograd::NoGradGuard ng;
  Tensor u = empty(p.sizes(), p.dtype() == DType::Float64 ? DType::Float64 : DType::Float32,
                   p.device());
  fill_random(u, RandomDist::Uniform, 0.0, 1.0, gen, "bernoulli");
  return to_dtype(lt(u, detach(p)), p.dtype());
}

Tensor& bernoulli_(Tensor& t, double p, const GeneratorPtr& gen) {
  RV_CHECK_VALUE(p >= 0.0 && p <= 1.0, "bernoulli_: expected 0 <= p <= 1, but got p=", p);
  autograd::check_inplace(t, "bernoulli_");
  autograd::NoGradGuard ng;
  Tensor u = empty(t.sizes(), DType::Float64, t.device());
  fill_random(u, RandomDist::Uniform, 0.0, 1.0, gen, "bernoulli_");
  Tensor r = lt(u, scalar_tensor(Scalar(p), DType::Float64, t.device()));
  Tensor d = detach(t);
  copy_(d, r);
  t.bump_version();
  return t;
}

}  // namespace ranvier
