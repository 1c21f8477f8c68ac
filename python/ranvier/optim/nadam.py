"""NAdam (Nesterov Adam, with momentum_decay) and RAdam (rectified Adam), both with L2 or
decoupled weight decay and maximize. NAdam's state adds 'mu_product' (0-d tensor)."""
import ranvier
from ranvier import _C
from ranvier.optim.optimizer import (Optimizer, _as_step, _check_betas, _check_lr,
                                     _check_nonneg, _params_with_grad, _scalar_step)

__all__ = ["NAdam", "RAdam"]


def _adam_like_state(optimizer, params, extra=()):
    exp_avgs, exp_avg_sqs, steps = [], [], []
    for p in params:
        state = optimizer.state[p]
        if len(state) == 0:
            state["step"] = _scalar_step()
            for key, init in extra:
                state[key] = _scalar_step(init)
            state["exp_avg"] = ranvier.zeros_like(p)
            state["exp_avg_sq"] = ranvier.zeros_like(p)
        state["step"] = _as_step(state["step"])
        for key, _ in extra:
            state[key] = _as_step(state[key])
        exp_avgs.append(state["exp_avg"])
        exp_avg_sqs.append(state["exp_avg_sq"])
        steps.append(state["step"])
    return exp_avgs, exp_avg_sqs, steps


class NAdam(Optimizer):
    """NAdam: mu_t = beta1 (1 - 0.5 * 0.96^(t momentum_decay)); with m, v as in Adam and
    d = sqrt(v / (1 - beta2^t)) + eps, p -= lr (1 - mu_t) / (1 - prod mu) g / d
    + lr mu_{t+1} / (1 - prod mu * mu_{t+1}) m / d."""

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 momentum_decay=4e-3, decoupled_weight_decay=False, *, foreach=None,
                 maximize=False, capturable=False, differentiable=False):
        lr = _check_lr(lr)
        _check_nonneg(eps, "epsilon")
        _check_betas(betas)
        _check_nonneg(weight_decay, "weight_decay")
        _check_nonneg(momentum_decay, "momentum_decay")
        if differentiable:
            raise NotImplementedError("NAdam: differentiable=True is not supported")
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize,
                        foreach=foreach, capturable=capturable, differentiable=differentiable)
        super().__init__(params, defaults)

    def step(self, closure=None):
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            params, grads = _params_with_grad(group)
            if not params:
                continue
            exp_avgs, exp_avg_sqs, steps = _adam_like_state(self, params,
                                                            extra=(("mu_product", 1.0),))
            mu_products = [self.state[p]["mu_product"] for p in params]
            beta1, beta2 = group["betas"]
            _C._optim_nadam_(params, grads, exp_avgs, exp_avg_sqs, mu_products, steps,
                             float(group["lr"]), float(beta1), float(beta2), float(group["eps"]),
                             float(group["weight_decay"]), float(group["momentum_decay"]),
                             bool(group["decoupled_weight_decay"]), bool(group["maximize"]))
        return loss


class RAdam(Optimizer):
    """RAdam: Adam's moments; while the variance's rectification term rho_t > 5 the step is
    lr * m / (1 - beta1^t) * rect_t * sqrt(1 - beta2^t) / (sqrt(v) + eps), before that the
    un-adapted lr * m / (1 - beta1^t)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False,
                 capturable=False, differentiable=False):
        lr = _check_lr(lr)
        _check_nonneg(eps, "epsilon")
        _check_betas(betas)
        _check_nonneg(weight_decay, "weight_decay")
        if differentiable:
            raise NotImplementedError("RAdam: differentiable=True is not supported")
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        maximize=maximize, foreach=foreach, capturable=capturable,
                        decoupled_weight_decay=decoupled_weight_decay,
                        differentiable=differentiable)
        super().__init__(params, defaults)

    def step(self, closure=None):
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            params, grads = _params_with_grad(group)
            if not params:
                continue
            exp_avgs, exp_avg_sqs, steps = _adam_like_state(self, params)
            beta1, beta2 = group["betas"]
            _C._optim_radam_(params, grads, exp_avgs, exp_avg_sqs, steps, float(group["lr"]),
                             float(beta1), float(beta2), float(group["eps"]),
                             float(group["weight_decay"]),
                             bool(group["decoupled_weight_decay"]), bool(group["maximize"]))
        return loss
