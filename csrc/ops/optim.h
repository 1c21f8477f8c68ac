// Fused optimizer steps (multi-tensor): each function updates every parameter of a param group
// in one call, in place, without autograd recording (like torch.no_grad), and bumps the
// parameters' versions. Lists are parallel: params[i], grads[i] and each state list's entry i
// belong together and must share shape, dtype (float32 or float64) and device. `steps` are the
// per-parameter step counters (0-d floating tensors, incremented here before use); all
// bias-correction factors are computed in double precision from them, the elementwise math runs
// in the parameter's dtype with the same order of operations as PyTorch's reference loops.
// Note [Optim state layout]: the state lists and their names follow PyTorch's state keys
// (exp_avg, exp_avg_sq, ...); python/ranvier/optim owns the dicts, C++ only sees lists.
#pragma once
#include <cstdint>
#include <vector>

#include "core/dispatch.h"
#include "core/tensor.h"

namespace ranvier {

using TensorVec = std::vector<Tensor>;

// SGD with momentum / dampening / nesterov / weight decay / maximize. momentum_buffers is empty
// when momentum == 0; otherwise it has one entry per parameter, undefined where no buffer exists
// yet (the buffer is then created from the gradient, as on PyTorch's first step). Returns the
// buffers (empty when momentum == 0).
TensorVec sgd_step_(const TensorVec& params, const TensorVec& grads,
                    const TensorVec& momentum_buffers, double lr, double momentum,
                    double dampening, double weight_decay, bool nesterov, bool maximize);
// Adam / AdamW (decoupled_weight_decay). max_exp_avg_sqs is empty unless amsgrad.
void adam_step_(const TensorVec& params, const TensorVec& grads, const TensorVec& exp_avgs,
                const TensorVec& exp_avg_sqs, const TensorVec& max_exp_avg_sqs,
                const TensorVec& steps, double lr, double beta1, double beta2, double eps,
                double weight_decay, bool amsgrad, bool maximize, bool decoupled_weight_decay);
// RMSprop. grad_avgs is empty unless centered; momentum_buffers is empty unless momentum > 0.
void rmsprop_step_(const TensorVec& params, const TensorVec& grads,
                   const TensorVec& square_avgs, const TensorVec& grad_avgs,
                   const TensorVec& momentum_buffers, const TensorVec& steps, double lr,
                   double alpha, double eps, double weight_decay, double momentum, bool centered,
                   bool maximize);
void adagrad_step_(const TensorVec& params, const TensorVec& grads, const TensorVec& sums,
                   const TensorVec& steps, double lr, double lr_decay, double weight_decay,
                   double eps, bool maximize);
void adadelta_step_(const TensorVec& params, const TensorVec& grads,
                    const TensorVec& square_avgs, const TensorVec& acc_deltas,
                    const TensorVec& steps, double lr, double rho, double eps,
                    double weight_decay, bool maximize);
void adamax_step_(const TensorVec& params, const TensorVec& grads, const TensorVec& exp_avgs,
                  const TensorVec& exp_infs, const TensorVec& steps, double lr, double beta1,
                  double beta2, double eps, double weight_decay, bool maximize);
// NAdam: mu_products are 0-d tensors updated here (mu_product *= mu_t).
void nadam_step_(const TensorVec& params, const TensorVec& grads, const TensorVec& exp_avgs,
                 const TensorVec& exp_avg_sqs, const TensorVec& mu_products,
                 const TensorVec& steps, double lr, double beta1, double beta2, double eps,
                 double weight_decay, double momentum_decay, bool decoupled_weight_decay,
                 bool maximize);
void radam_step_(const TensorVec& params, const TensorVec& grads, const TensorVec& exp_avgs,
                 const TensorVec& exp_avg_sqs, const TensorVec& steps, double lr, double beta1,
                 double beta2, double eps, double weight_decay, bool decoupled_weight_decay,
                 bool maximize);

// What a kernel sees: contiguous buffers of one dtype, concatenated logically through
// `offsets` (tensor i owns elements [offsets[i], offsets[i+1])).
struct OptimSpec {
  DType dtype = DType::Float32;
  std::vector<int64_t> offsets{0};
  std::vector<void*> param;
  std::vector<const void*> grad;
  std::vector<void*> state[3];     // per optimizer: see the kernels in kernels/cpu/simd/optim.cpp
  std::vector<double> coef[3];     // per-tensor factors computed in double (bias corrections)
  std::vector<uint8_t> flag;       // per-tensor flag (SGD: the momentum buffer is new)
  double h[6] = {0, 0, 0, 0, 0, 0};  // group hyper-parameters
  bool b[3] = {false, false, false};  // group options
};
using OptimKernel = void (*)(const OptimSpec& s);
extern KernelSlot<OptimKernel> sgd_kernel;
extern KernelSlot<OptimKernel> adam_kernel;
extern KernelSlot<OptimKernel> rmsprop_kernel;
extern KernelSlot<OptimKernel> adagrad_kernel;
extern KernelSlot<OptimKernel> adadelta_kernel;
extern KernelSlot<OptimKernel> adamax_kernel;
extern KernelSlot<OptimKernel> nadam_kernel;
extern KernelSlot<OptimKernel> radam_kernel;

}  // namespace ranvier
