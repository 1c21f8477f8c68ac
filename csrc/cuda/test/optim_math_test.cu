// Host-side test of the CUDA optimizer steps' per-element math (kernels/cuda/optim.cuh),
// compiled with nvcc and run on the CPU: for every optimizer and each of its options, three
// steps on two tensors of the group from the CPU kernel (through its slot in libranvier) and
// from the per-element functions must give bitwise the same parameters and state, float32 and
// float64. Built and run by .ci/cuda_build_check.
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <vector>

#include "kernels/cuda/optim.cuh"
#include "ops/optim.h"

using namespace ranvier;
using namespace ranvier::cuda::optim_math;

#include "cuda/test/check.h"

template <typename T>
struct Buffers {
  std::vector<T> p, g, s[3];
};

template <typename T>
static Buffers<T> make(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> d(-1, 1), pos(0.01, 1);
  Buffers<T> b;
  b.p.resize(n);
  b.g.resize(n);
  for (auto& x : b.p) x = T(d(rng));
  for (auto& x : b.g) x = T(d(rng));
  for (auto& s : b.s) {
    s.resize(n);
    for (auto& x : s) x = T(pos(rng));
  }
  return b;
}

// Fills spec pointers for the tensors in bufs (nstate state lists).
template <typename T>
static OptimSpec spec_for(std::vector<Buffers<T>>& bufs, DType dt, int nstate) {
  OptimSpec s;
  s.dtype = dt;
  for (auto& b : bufs) {
    s.offsets.push_back(s.offsets.back() + int64_t(b.p.size()));
    s.param.push_back(b.p.data());
    s.grad.push_back(b.g.data());
    for (int k = 0; k < nstate; ++k) s.state[k].push_back(b.s[k].data());
  }
  return s;
}

using Elem = void (*)(const OptimGroup&, const OptimTensor&, int64_t);

template <typename T>
static void check_opt(const char* name, KernelSlot<OptimKernel>& slot, Elem elem, DType dt,
                      int nstate, const double (&h)[6], const bool (&b)[3], int ncoef, bool fresh) {
  std::vector<Buffers<T>> a = {make<T>(37, 1), make<T>(1000, 2)}, c = a;
  for (int step = 0; step < 3; ++step) {
    OptimSpec sa = spec_for(a, dt, nstate), sc = spec_for(c, dt, nstate);
    for (int i = 0; i < 6; ++i) sa.h[i] = sc.h[i] = h[i];
    for (int i = 0; i < 3; ++i) sa.b[i] = sc.b[i] = b[i];
    for (int k = 0; k < ncoef; ++k)
      for (size_t i = 0; i < a.size(); ++i) {
        double v = 0.37 + 0.11 * double(k) + 0.05 * double(step) + 0.01 * double(i);
        sa.coef[k].push_back(v);
        sc.coef[k].push_back(v);
      }
    for (size_t i = 0; i < a.size(); ++i) {
      sa.flag.push_back(fresh && step == 0);
      sc.flag.push_back(fresh && step == 0);
    }
    slot.get(Device(DeviceType::CPU), name)(sa);
    OptimGroup k;
    for (int i = 0; i < 6; ++i) k.h[i] = h[i];
    for (int i = 0; i < 3; ++i) k.b[i] = b[i];
    for (size_t i = 0; i < c.size(); ++i) {
      OptimTensor t;
      t.p = c[i].p.data();
      t.g = c[i].g.data();
      for (int q = 0; q < nstate; ++q) t.s[q] = c[i].s[q].data();
      for (int q = 0; q < ncoef; ++q) t.coef[q] = sc.coef[q][i];
      t.flag = sc.flag[i];
      t.n = int64_t(c[i].p.size());
      for (int64_t j = 0; j < t.n; ++j) elem(k, t, j);
    }
  }
  for (size_t i = 0; i < a.size(); ++i) {
    bool same = std::memcmp(a[i].p.data(), c[i].p.data(), a[i].p.size() * sizeof(T)) == 0;
    for (int q = 0; q < nstate; ++q)
      same = same && std::memcmp(a[i].s[q].data(), c[i].s[q].data(), a[i].s[q].size() * sizeof(T)) == 0;
    if (!same) {
      if (failures < 20)
        std::printf("FAIL %s (%s) b=%d%d%d wd=%g: tensor %zu differs\n", name, dtype_name(dt), b[0],
                    b[1], b[2], h[3], i);
      ++failures;
    }
  }
}

template <typename T>
static void test_all(DType dt) {
  for (int opt = 0; opt < 8; ++opt) {
    bool b[3];
    for (int bits = 0; bits < 8; ++bits) {
      b[0] = bits & 1;
      b[1] = bits & 2;
      b[2] = bits & 4;
      for (double wd : {0.0, 0.01}) {
        switch (opt) {
          case 0: {  // sgd: lr, momentum, dampening, wd; nesterov, maximize, use momentum
            double h[6] = {0.1, 0.9, 0.1, wd, 0, 0};
            check_opt<T>("sgd", sgd_kernel, &sgd<T>, dt, 1, h, b, 0, true);
            check_opt<T>("sgd", sgd_kernel, &sgd<T>, dt, 1, h, b, 0, false);
            break;
          }
          case 1: {  // adam: lr, b1, b2, eps, wd; amsgrad, maximize, decoupled
            double h[6] = {0.01, 0.9, 0.999, 1e-8, wd, 0};
            check_opt<T>("adam", adam_kernel, &adam<T>, dt, 3, h, b, 2, false);
            break;
          }
          case 2: {  // rmsprop: lr, alpha, eps, wd, momentum; centered, maximize, momentum
            double h[6] = {0.01, 0.99, 1e-8, wd, 0.9, 0};
            check_opt<T>("rmsprop", rmsprop_kernel, &rmsprop<T>, dt, 3, h, b, 0, false);
            break;
          }
          case 3: {  // adagrad: wd, eps
            double h[6] = {wd, 1e-10, 0, 0, 0, 0};
            check_opt<T>("adagrad", adagrad_kernel, &adagrad<T>, dt, 1, h, b, 1, false);
            break;
          }
          case 4: {  // adadelta: lr, rho, eps, wd
            double h[6] = {1.0, 0.9, 1e-6, wd, 0, 0};
            check_opt<T>("adadelta", adadelta_kernel, &adadelta<T>, dt, 2, h, b, 0, false);
            break;
          }
          case 5: {  // adamax: b1, b2, eps, wd
            double h[6] = {0.9, 0.999, 1e-8, wd, 0, 0};
            check_opt<T>("adamax", adamax_kernel, &adamax<T>, dt, 2, h, b, 1, false);
            break;
          }
          case 6: {  // nadam
            double h[6] = {0.002, 0.9, 0.999, 1e-8, wd, 0};
            check_opt<T>("nadam", nadam_kernel, &nadam<T>, dt, 2, h, b, 3, false);
            break;
          }
          default: {  // radam (coef[2] > 0: rectified)
            double h[6] = {0.001, 0.9, 0.999, 1e-8, wd, 0};
            check_opt<T>("radam", radam_kernel, &radam<T>, dt, 2, h, b, 3, false);
          }
        }
      }
    }
  }
}

int main() {
  test_all<float>(DType::Float32);
  test_all<double>(DType::Float64);
  if (failures) {
    std::printf("optim_math_test: %d failure(s)\n", failures);
    return 1;
  }
  std::printf("optim_math_test: ok\n");
  return 0;
}
