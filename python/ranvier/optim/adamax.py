"""Adamax (Adam with the infinity norm) with weight_decay and maximize. State: 'step',
'exp_avg', 'exp_inf'."""
from ranvier import _C
from ranvier.optim.optimizer import (Optimizer, _check_betas, _check_lr, _check_nonneg,
                                     _group_state, _params_with_grad)

__all__ = ["Adamax"]


class Adamax(Optimizer):
    """Adamax: m = lerp(m, g, 1 - beta1), u = max(beta2 u, |g| + eps),
    p -= lr / (1 - beta1^t) * m / u."""

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 foreach=None, *, maximize=False, differentiable=False, capturable=False):
        lr = _check_lr(lr)
        _check_nonneg(eps, "epsilon")
        _check_betas(betas)
        _check_nonneg(weight_decay, "weight_decay")
        if differentiable:
            raise NotImplementedError("Adamax: differentiable=True is not supported")
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        foreach=foreach, maximize=maximize, differentiable=differentiable,
                        capturable=capturable)
        super().__init__(params, defaults)

    def step(self, closure=None):
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            params, grads = _params_with_grad(group)
            if not params:
                continue
            (exp_avgs, exp_infs), steps = _group_state(self, params, ("exp_avg", "exp_inf"))
            beta1, beta2 = group["betas"]
            _C._optim_adamax_(params, grads, exp_avgs, exp_infs, steps, float(group["lr"]),
                              float(beta1), float(beta2), float(group["eps"]),
                              float(group["weight_decay"]), bool(group["maximize"]))
        return loss
