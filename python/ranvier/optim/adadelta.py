"""Adadelta with rho, eps, weight_decay and maximize. State: 'step', 'square_avg',
'acc_delta'."""
from ranvier import _C
from ranvier.optim.optimizer import (Optimizer, _check_lr, _check_nonneg, _group_state,
                                     _params_with_grad)

__all__ = ["Adadelta"]


class Adadelta(Optimizer):
    """Adadelta: s = rho s + (1 - rho) g^2, d = sqrt(acc + eps) / sqrt(s + eps) * g,
    acc = rho acc + (1 - rho) d^2, p -= lr d."""

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *,
                 capturable=False, maximize=False, differentiable=False):
        lr = _check_lr(lr)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        _check_nonneg(eps, "epsilon")
        _check_nonneg(weight_decay, "weight_decay")
        if differentiable:
            raise NotImplementedError("Adadelta: differentiable=True is not supported")
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                        capturable=capturable, foreach=foreach, differentiable=differentiable)
        super().__init__(params, defaults)

    def step(self, closure=None):
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            params, grads = _params_with_grad(group)
            if not params:
                continue
            (square_avgs, acc_deltas), steps = _group_state(self, params,
                                                            ("square_avg", "acc_delta"))
            _C._optim_adadelta_(params, grads, square_avgs, acc_deltas, steps,
                                float(group["lr"]), float(group["rho"]), float(group["eps"]),
                                float(group["weight_decay"]), bool(group["maximize"]))
        return loss
