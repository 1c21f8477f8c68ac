// CUDA kernels of the fused optimizer steps (ops/optim.h): sgd (momentum, dampening, nesterov,
// weight decay, maximize), adam / adamw (amsgrad), rmsprop (centered, momentum), adagrad,
// adadelta, adamax, nadam, radam, for float32 and float64 parameters. One grid-stride
// elementwise launch per tensor of the group; the per-element math is in optim.cuh and is
// bitwise the CPU kernel's (no fused multiply-adds).
#include "cuda/cuda_check.h"
#include "cuda/loop.cuh"
#include "cuda/register.h"
#include "kernels/cuda/optim.cuh"
#include "ops/optim.h"

namespace ranvier::cuda {

namespace {

using namespace optim_math;

enum class Opt { Sgd, Adam, Rmsprop, Adagrad, Adadelta, Adamax, Nadam, Radam };

template <typename T, Opt kOpt>
__global__ void optim_dev(OptimGroup k, OptimTensor t) {
  RV_GRID_STRIDE(j, t.n) {
    if constexpr (kOpt == Opt::Sgd) sgd<T>(k, t, j);
    else if constexpr (kOpt == Opt::Adam) adam<T>(k, t, j);
    else if constexpr (kOpt == Opt::Rmsprop) rmsprop<T>(k, t, j);
    else if constexpr (kOpt == Opt::Adagrad) adagrad<T>(k, t, j);
    else if constexpr (kOpt == Opt::Adadelta) adadelta<T>(k, t, j);
    else if constexpr (kOpt == Opt::Adamax) adamax<T>(k, t, j);
    else if constexpr (kOpt == Opt::Nadam) nadam<T>(k, t, j);
    else radam<T>(k, t, j);
  }
}

template <Opt kOpt>
void run(const OptimSpec& s) {
  OptimGroup k;
  for (int i = 0; i < 6; ++i) k.h[i] = s.h[i];
  for (int i = 0; i < 3; ++i) k.b[i] = s.b[i];
  for (size_t i = 0; i + 1 < s.offsets.size(); ++i) {
    OptimTensor t;
    t.n = s.offsets[i + 1] - s.offsets[i];
    if (t.n == 0) continue;
    t.p = s.param[i];
    t.g = s.grad[i];
    for (int q = 0; q < 3; ++q) {
      t.s[q] = s.state[q].empty() ? nullptr : s.state[q][i];
      t.coef[q] = s.coef[q].empty() ? 0.0 : s.coef[q][i];
    }
    t.flag = !s.flag.empty() && s.flag[i] != 0;
    if (s.dtype == DType::Float64) optim_dev<double, kOpt><<<grid_for(t.n), kThreads>>>(k, t);
    else if (s.dtype == DType::Float32) optim_dev<float, kOpt><<<grid_for(t.n), kThreads>>>(k, t);
    else throw_unsupported_dtype("optimizer step (CUDA)", s.dtype);
    RV_CUDA_CHECK(cudaGetLastError());
  }
}

void sgd_cuda(const OptimSpec& s) { run<Opt::Sgd>(s); }
void adam_cuda(const OptimSpec& s) { run<Opt::Adam>(s); }
void rmsprop_cuda(const OptimSpec& s) { run<Opt::Rmsprop>(s); }
void adagrad_cuda(const OptimSpec& s) { run<Opt::Adagrad>(s); }
void adadelta_cuda(const OptimSpec& s) { run<Opt::Adadelta>(s); }
void adamax_cuda(const OptimSpec& s) { run<Opt::Adamax>(s); }
void nadam_cuda(const OptimSpec& s) { run<Opt::Nadam>(s); }
void radam_cuda(const OptimSpec& s) { run<Opt::Radam>(s); }

}  // namespace

void register_optim_cuda() {
  sgd_kernel.set(DeviceType::CUDA, &sgd_cuda);
  adam_kernel.set(DeviceType::CUDA, &adam_cuda);
  rmsprop_kernel.set(DeviceType::CUDA, &rmsprop_cuda);
  adagrad_kernel.set(DeviceType::CUDA, &adagrad_cuda);
  adadelta_kernel.set(DeviceType::CUDA, &adadelta_cuda);
  adamax_kernel.set(DeviceType::CUDA, &adamax_cuda);
  nadam_kernel.set(DeviceType::CUDA, &nadam_cuda);
  radam_kernel.set(DeviceType::CUDA, &radam_cuda);
}

}  // namespace ranvier::cuda
