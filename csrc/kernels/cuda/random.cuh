// The CUDA random kernel's per-block math (random.cu), host-callable for the host-side test.
// Note [Random numbers across devices]: the CPU kernel (kernels/cpu/random.cpp) computes
// element i of a request from Philox block first_block + i / k alone (k = 4 float values, 2
// double or int64 values per block), so any device can compute the same elements. Here block
// kb's values are computed with the CPU's formulas:
//   - randint, uniform (float and double), and everything built on uniform (bernoulli,
//     dropout masks): Philox bits and IEEE-rounded + - * only, with __dadd_rn / __dmul_rn so
//     that nvcc does not fuse a multiply-add the CPU rounds twice: bitwise the CPU's numbers;
//   - normal (Box-Muller): log / sqrt / sin / cos. float: log, sin and cos are evaluated in
//     double and rounded to float (nearly always the correctly rounded float value), where
//     the CPU calls the C library's float functions, which are not always correctly rounded:
//     about 98.5% of float normal values are bitwise the CPU's, the rest within 3 ulp
//     (csrc/cuda/test/random_math_test.cu); double: CUDA's double log / sin / cos (<= 2 ulp)
//     against the C library's, so agreement to a few ulp, not always bitwise.
#pragma once
#include <cmath>
#include <cstdint>

#include "cuda/rounded.cuh"
#include "kernels/common/philox.h"
#include "ops/random.h"

namespace ranvier::cuda::random_math {

constexpr double kTwoPi = 6.283185307179586476925;

RV_HOST_DEVICE RV_INLINE float nextafter_toward(float from, float to) {
  return std::nextafter(from, to);
}

// Values per Philox block for a request of this kind.
RV_HOST_DEVICE RV_INLINE int per_block(RandomDist dist, DType dtype) {
  return (dist == RandomDist::RandInt || dtype == DType::Float64) ? 2 : 4;
}

// Writes the values of block kb (elements per_block * kb ...) that fall below n.
RV_HOST_DEVICE RV_INLINE void random_block(const RandomRequest& r, void* out, DType dtype,
                                           int64_t n, int64_t kb) {
  const Philox4 p = philox4x32_10(r.seed, r.first_block + uint64_t(kb));
  if (r.dist == RandomDist::RandInt) {
    int64_t* o = static_cast<int64_t*>(out);
    const uint64_t lo = uint64_t(int64_t(r.a));
    const uint64_t range = uint64_t(int64_t(r.b) - int64_t(r.a));
    for (int j = 0; j < 2 && 2 * kb + j < n; ++j) {
      uint64_t v = (uint64_t(p.v[2 * j]) << 32) | p.v[2 * j + 1];
      o[2 * kb + j] = int64_t(lo + v % range);
    }
    return;
  }
  if (dtype == DType::Float64) {
    double* o = static_cast<double*>(out);
    const double u0 = uniform_double(p.v[0], p.v[1]), u1 = uniform_double(p.v[2], p.v[3]);
    double v[2];
    if (r.dist == RandomDist::Uniform) {
      v[0] = rn_add(r.a, rn_mul(rn_sub(r.b, r.a), u0));
      v[1] = rn_add(r.a, rn_mul(rn_sub(r.b, r.a), u1));
    } else {
      const double rad = std::sqrt(rn_mul(-2.0, std::log(rn_sub(1.0, u0))));
      const double ang = rn_mul(kTwoPi, u1);
      v[0] = rn_add(r.a, rn_mul(rn_mul(r.b, rad), std::cos(ang)));
      v[1] = rn_add(r.a, rn_mul(rn_mul(r.b, rad), std::sin(ang)));
    }
    for (int j = 0; j < 2 && 2 * kb + j < n; ++j) o[2 * kb + j] = v[j];
    return;
  }
  float* o = static_cast<float*>(out);
  float v[4];
  if (r.dist == RandomDist::Uniform) {
    for (int j = 0; j < 4; ++j) {
      const double x = rn_add(r.a, rn_mul(rn_sub(r.b, r.a), double(uniform_float(p.v[j]))));
      v[j] = float(x);
      if (v[j] >= float(r.b) && r.b > r.a) v[j] = nextafter_toward(float(r.b), float(r.a));
    }
  } else {
    for (int j = 0; j < 4; j += 2) {
      const float u0 = uniform_float(p.v[j]), u1 = uniform_float(p.v[j + 1]);
      const float lg = float(std::log(double(1.0f - u0)));
      const float rad = std::sqrt(rn_mul(-2.0f, lg));
      const float ang = rn_mul(float(kTwoPi), u1);
      const float c = float(std::cos(double(ang))), s = float(std::sin(double(ang)));
      v[j] = float(rn_add(r.a, rn_mul(r.b, double(rn_mul(rad, c)))));
      v[j + 1] = float(rn_add(r.a, rn_mul(r.b, double(rn_mul(rad, s)))));
    }
  }
  for (int j = 0; j < 4 && 4 * kb + j < n; ++j) o[4 * kb + j] = v[j];
}

}  // namespace ranvier::cuda::random_math
