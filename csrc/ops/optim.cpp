// Fused optimizer steps (see optim.h): argument checks, per-tensor bias-correction factors in
// double precision, step-counter updates, then one kernel call per dtype over all tensors.
// Non-contiguous parameters or state buffers are updated through a contiguous copy that is
// written back afterwards; gradients are read through a contiguous view or copy.
#include "ops/optim.h"

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <iterator>
#include <utility>

#include "ops/copy.h"
#include "ops/factory.h"

namespace ranvier {

KernelSlot<OptimKernel> sgd_kernel{"sgd"};
KernelSlot<OptimKernel> adam_kernel{"adam"};
KernelSlot<OptimKernel> rmsprop_kernel{"rmsprop"};
KernelSlot<OptimKernel> adagrad_kernel{"adagrad"};
KernelSlot<OptimKernel> adadelta_kernel{"adadelta"};
KernelSlot<OptimKernel> adamax_kernel{"adamax"};
KernelSlot<OptimKernel> nadam_kernel{"nadam"};
KernelSlot<OptimKernel> radam_kernel{"radam"};

namespace {

using StateLists = std::vector<std::pair<const char*, const TensorVec*>>;

double read_scalar(const Tensor& t) {
  return t.dtype() == DType::Float32 ? double(*t.data<float>()) : *t.data<double>();
}
void write_scalar(const Tensor& t, double v) {
  if (t.dtype() == DType::Float32)
    *t.data<float>() = float(v);
  else
    *t.data<double>() = v;
  t.bump_version();
}

void check_scalar_state(const char* op, const char* what, const TensorVec& v, size_t n) {
  RV_CHECK(v.size() == n, op, ": expected ", n, " ", what, " tensors (one per parameter), got ",
           v.size());
  for (size_t i = 0; i < n; ++i) {
    const Tensor& t = v[i];
    RV_CHECK(t.defined(), op, ": ", what, "[", i, "] is None");
    RV_CHECK_TYPE(t.dtype() == DType::Float32 || t.dtype() == DType::Float64, op, ": ", what,
                  "[", i, "] must be a float32 or float64 tensor, got ", t.describe());
    RV_CHECK(t.numel() == 1 && t.device().is_cpu(), op, ": ", what, "[", i,
             "] must be a one-element CPU tensor, got ", t.describe());
  }
}

// Validates the lists, increments the step counters and runs the kernel once per dtype.
class StepRunner {
 public:
  StepRunner(const char* op, const TensorVec& params, const TensorVec& grads, StateLists states)
      : op_(op), params_(params), grads_(grads), states_(std::move(states)) {
    size_t n = params.size();
    RV_CHECK(grads.size() == n, op, ": got ", n, " parameters but ", grads.size(), " gradients");
    for (auto& st : states_)
      RV_CHECK(st.second->size() == n, op, ": got ", n, " parameters but ", st.second->size(),
               " ", st.first, " tensors");
    for (size_t i = 0; i < n; ++i) {
      const Tensor& p = params[i];
      RV_CHECK(p.defined(), op, ": params[", i, "] is None");
      RV_CHECK_TYPE(p.dtype() == DType::Float32 || p.dtype() == DType::Float64, op,
                    ": parameters must be float32 or float64, got params[", i, "] ",
                    p.describe());
      RV_CHECK(p.device() == params[0].device(), op,
               ": all parameters of a group must be on one device, got ", p.describe(),
               " and ", params[0].describe());
      check_like(p, grads[i], "grad", i);
      for (auto& st : states_) check_like(p, (*st.second)[i], st.first, i);
    }
  }

  // Increments every step counter and returns the new values.
  std::vector<double> bump_steps(const TensorVec& steps) {
    check_scalar_state(op_, "step", steps, params_.size());
    std::vector<double> out(steps.size());
    for (size_t i = 0; i < steps.size(); ++i) {
      double v = read_scalar(steps[i]) + 1.0;
      write_scalar(steps[i], v);
      out[i] = read_scalar(steps[i]);
    }
    return out;
  }

  // fill(spec, i) appends tensor i's per-tensor coefficients / flags.
  template <typename Fill>
  void run(const KernelSlot<OptimKernel>& slot, const OptimSpec& base, Fill fill) {
    if (params_.empty()) return;
    OptimKernel kernel = slot.get(params_[0].device(), op_);
    for (DType dt : {DType::Float32, DType::Float64}) {
      OptimSpec s = base;
      s.dtype = dt;
      std::vector<std::pair<Tensor, Tensor>> writeback;  // (original, contiguous copy)
      std::vector<Tensor> keep;
      auto writable = [&](const Tensor& t) -> void* {
        if (t.is_contiguous()) return t.data_ptr();
        Tensor c = contiguous_clone(t);
        writeback.emplace_back(t, c);
        return c.data_ptr();
      };
      for (size_t i = 0; i < params_.size(); ++i) {
        if (params_[i].dtype() != dt) continue;
        s.param.push_back(writable(params_[i]));
        Tensor g = contiguous(detach(grads_[i]));
        keep.push_back(g);
        s.grad.push_back(g.data_ptr());
        for (size_t k = 0; k < states_.size(); ++k) s.state[k].push_back(writable((*states_[k].second)[i]));
        s.offsets.push_back(s.offsets.back() + params_[i].numel());
        fill(s, i);
      }
      if (s.param.empty()) continue;
      kernel(s);
      for (auto& wb : writeback) {
        Tensor dst = detach(wb.first);
        copy_(dst, wb.second);
      }
    }
    for (const Tensor& p : params_) p.bump_version();
    for (auto& st : states_)
      for (const Tensor& t : *st.second) t.bump_version();
  }

 private:
  void check_like(const Tensor& p, const Tensor& t, const char* what, size_t i) {
    RV_CHECK(t.defined(), op_, ": ", what, "[", i, "] is None");
    RV_CHECK_TYPE(t.dtype() == p.dtype(), op_, ": ", what, "[", i, "] must have the dtype of its parameter: got ",
                  t.describe(), " for a parameter ", p.describe());
    RV_CHECK(t.sizes() == p.sizes(), op_, ": ", what, "[", i,
             "] must have the shape of its parameter: got ", t.describe(), " for a parameter ",
             p.describe());
    RV_CHECK(t.device() == p.device(), op_, ": ", what, "[", i,
             "] must be on the device of its parameter: got ", t.describe(), " on ",
             t.device().str(), " for a parameter on ", p.device().str());
  }

  const char* op_;
  const TensorVec& params_;
  const TensorVec& grads_;
  StateLists states_;
};

void check_lr(const char* op, double lr) {
  RV_CHECK_VALUE(lr >= 0.0, op, ": invalid learning rate: ", lr);
}

// The group's hyper-parameters h[0..] and options b[0..] in the order the kernel reads them
// (kernels/cpu/simd/optim.cpp).
OptimSpec group_spec(std::initializer_list<double> h, std::initializer_list<bool> b) {
  OptimSpec s;
  RV_CHECK(h.size() <= std::size(s.h) && b.size() <= std::size(s.b),
           "group_spec: too many values");
  std::copy(h.begin(), h.end(), s.h);
  std::copy(b.begin(), b.end(), s.b);
  return s;
}

}  // namespace

TensorVec sgd_step_(const TensorVec& params, const TensorVec& grads,
                    const TensorVec& momentum_buffers, double lr, double momentum,
                    double dampening, double weight_decay, bool nesterov, bool maximize) {
  const char* op = "sgd_step_";
  check_lr(op, lr);
  bool use_momentum = momentum != 0.0;
  TensorVec bufs;
  std::vector<uint8_t> fresh;
  if (use_momentum) {
    RV_CHECK(momentum_buffers.size() == params.size(), op, ": got ", params.size(),
             " parameters but ", momentum_buffers.size(), " momentum buffers");
    for (size_t i = 0; i < params.size(); ++i) {
      bool is_new = !momentum_buffers[i].defined();
      RV_CHECK(params[i].defined(), op, ": params[", i, "] is None");
      bufs.push_back(is_new ? empty(params[i].sizes(), params[i].dtype(), params[i].device())
                            : momentum_buffers[i]);
      fresh.push_back(is_new ? 1 : 0);
    }
  }
  StateLists states;
  if (use_momentum) states.emplace_back("momentum_buffer", &bufs);
  StepRunner r(op, params, grads, states);
  OptimSpec base = group_spec({lr, momentum, dampening, weight_decay},
                              {nesterov, maximize, use_momentum});
  r.run(sgd_kernel, base, [&](OptimSpec& s, size_t i) {
    s.flag.push_back(use_momentum ? fresh[i] : 0);
  });
  return bufs;
}

void adam_step_(const TensorVec& params, const TensorVec& grads, const TensorVec& exp_avgs,
                const TensorVec& exp_avg_sqs, const TensorVec& max_exp_avg_sqs,
                const TensorVec& steps, double lr, double beta1, double beta2, double eps,
                double weight_decay, bool amsgrad, bool maximize, bool decoupled_weight_decay) {
  const char* op = "adam_step_";
  check_lr(op, lr);
  StateLists states{{"exp_avg", &exp_avgs}, {"exp_avg_sq", &exp_avg_sqs}};
  if (amsgrad) states.emplace_back("max_exp_avg_sq", &max_exp_avg_sqs);
  StepRunner r(op, params, grads, states);
  std::vector<double> step = r.bump_steps(steps);
  OptimSpec base = group_spec({lr, beta1, beta2, eps, weight_decay},
                              {amsgrad, maximize, decoupled_weight_decay});
  r.run(adam_kernel, base, [&](OptimSpec& s, size_t i) {
    double bc1 = 1.0 - std::pow(beta1, step[i]);
    double bc2 = 1.0 - std::pow(beta2, step[i]);
    s.coef[0].push_back(lr / bc1);          // step size
    s.coef[1].push_back(std::sqrt(bc2));    // sqrt of the second bias correction
  });
}

void rmsprop_step_(const TensorVec& params, const TensorVec& grads,
                   const TensorVec& square_avgs, const TensorVec& grad_avgs,
                   const TensorVec& momentum_buffers, const TensorVec& steps, double lr,
                   double alpha, double eps, double weight_decay, double momentum, bool centered,
                   bool maximize) {
  const char* op = "rmsprop_step_";
  check_lr(op, lr);
  // state[0] square_avg, state[1] grad_avg (centered), state[2] momentum_buffer (momentum > 0):
  // the kernel indexes them by position, so missing lists are replaced by square_avgs
  // (never read).
  bool use_momentum = momentum > 0.0;
  StateLists states{{"square_avg", &square_avgs},
                    {"grad_avg", centered ? &grad_avgs : &square_avgs},
                    {"momentum_buffer", use_momentum ? &momentum_buffers : &square_avgs}};
  StepRunner r(op, params, grads, states);
  r.bump_steps(steps);
  OptimSpec base = group_spec({lr, alpha, eps, weight_decay, momentum},
                              {centered, maximize, use_momentum});
  r.run(rmsprop_kernel, base, [](OptimSpec&, size_t) {});
}

void adagrad_step_(const TensorVec& params, const TensorVec& grads, const TensorVec& sums,
                   const TensorVec& steps, double lr, double lr_decay, double weight_decay,
                   double eps, bool maximize) {
  const char* op = "adagrad_step_";
  check_lr(op, lr);
  StepRunner r(op, params, grads, {{"sum", &sums}});
  std::vector<double> step = r.bump_steps(steps);
  OptimSpec base = group_spec({weight_decay, eps}, {false, maximize});
  r.run(adagrad_kernel, base, [&](OptimSpec& s, size_t i) {
    s.coef[0].push_back(lr / (1.0 + (step[i] - 1.0) * lr_decay));
  });
}

void adadelta_step_(const TensorVec& params, const TensorVec& grads,
                    const TensorVec& square_avgs, const TensorVec& acc_deltas,
                    const TensorVec& steps, double lr, double rho, double eps,
                    double weight_decay, bool maximize) {
  const char* op = "adadelta_step_";
  check_lr(op, lr);
  StepRunner r(op, params, grads, {{"square_avg", &square_avgs}, {"acc_delta", &acc_deltas}});
  r.bump_steps(steps);
  OptimSpec base = group_spec({lr, rho, eps, weight_decay}, {false, maximize});
  r.run(adadelta_kernel, base, [](OptimSpec&, size_t) {});
}

void adamax_step_(const TensorVec& params, const TensorVec& grads, const TensorVec& exp_avgs,
                  const TensorVec& exp_infs, const TensorVec& steps, double lr, double beta1,
                  double beta2, double eps, double weight_decay, bool maximize) {
  const char* op = "adamax_step_";
  check_lr(op, lr);
  StepRunner r(op, params, grads, {{"exp_avg", &exp_avgs}, {"exp_inf", &exp_infs}});
  std::vector<double> step = r.bump_steps(steps);
  OptimSpec base = group_spec({beta1, beta2, eps, weight_decay}, {false, maximize});
  r.run(adamax_kernel, base, [&](OptimSpec& s, size_t i) {
    s.coef[0].push_back(lr / (1.0 - std::pow(beta1, step[i])));
  });
}

void nadam_step_(const TensorVec& params, const TensorVec& grads, const TensorVec& exp_avgs,
                 const TensorVec& exp_avg_sqs, const TensorVec& mu_products,
                 const TensorVec& steps, double lr, double beta1, double beta2, double eps,
                 double weight_decay, double momentum_decay, bool decoupled_weight_decay,
                 bool maximize) {
  const char* op = "nadam_step_";
  check_lr(op, lr);
  StepRunner r(op, params, grads, {{"exp_avg", &exp_avgs}, {"exp_avg_sq", &exp_avg_sqs}});
  check_scalar_state(op, "mu_product", mu_products, params.size());
  std::vector<double> step = r.bump_steps(steps);
  std::vector<double> mu(params.size()), mu_next(params.size()), prod(params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    mu[i] = beta1 * (1.0 - 0.5 * std::pow(0.96, step[i] * momentum_decay));
    mu_next[i] = beta1 * (1.0 - 0.5 * std::pow(0.96, (step[i] + 1.0) * momentum_decay));
    // mu_product *= mu in the counter's own dtype (float32 like PyTorch's state), then read
    // back as stored
    double prev = read_scalar(mu_products[i]);
    write_scalar(mu_products[i], mu_products[i].dtype() == DType::Float32
                                     ? double(float(prev) * float(mu[i]))
                                     : prev * mu[i]);
    prod[i] = read_scalar(mu_products[i]);
  }
  OptimSpec base = group_spec({lr, beta1, beta2, eps, weight_decay},
                              {false, maximize, decoupled_weight_decay});
  r.run(nadam_kernel, base, [&](OptimSpec& s, size_t i) {
    s.coef[0].push_back(1.0 - std::pow(beta2, step[i]));                   // bias_correction2
    s.coef[1].push_back(-lr * (1.0 - mu[i]) / (1.0 - prod[i]));            // grad factor
    s.coef[2].push_back(-lr * mu_next[i] / (1.0 - prod[i] * mu_next[i]));  // exp_avg factor
  });
}

void radam_step_(const TensorVec& params, const TensorVec& grads, const TensorVec& exp_avgs,
                 const TensorVec& exp_avg_sqs, const TensorVec& steps, double lr, double beta1,
                 double beta2, double eps, double weight_decay, bool decoupled_weight_decay,
                 bool maximize) {
  const char* op = "radam_step_";
  check_lr(op, lr);
  StepRunner r(op, params, grads, {{"exp_avg", &exp_avgs}, {"exp_avg_sq", &exp_avg_sqs}});
  std::vector<double> step = r.bump_steps(steps);
  OptimSpec base = group_spec({lr, beta1, beta2, eps, weight_decay},
                              {false, maximize, decoupled_weight_decay});
  double rho_inf = 2.0 / (1.0 - beta2) - 1.0;
  r.run(radam_kernel, base, [&](OptimSpec& s, size_t i) {
    double bc1 = 1.0 - std::pow(beta1, step[i]);
    double bc2 = 1.0 - std::pow(beta2, step[i]);
    double rho_t = rho_inf - 2.0 * step[i] * std::pow(beta2, step[i]) / bc2;
    double rect = 0.0;  // 0 marks "no rectification" (rho_t <= 5)
    if (rho_t > 5.0)
      rect = std::sqrt((rho_t - 4.0) * (rho_t - 2.0) * rho_inf /
                       ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t));
    s.coef[0].push_back(bc1);
    s.coef[1].push_back(std::sqrt(bc2));
    s.coef[2].push_back(rect);
  });
}

}  // namespace ranvier
