"""Adam and AdamW (decoupled weight decay), with amsgrad and maximize. State per parameter:
'step' (0-d tensor), 'exp_avg', 'exp_avg_sq', and 'max_exp_avg_sq' with amsgrad."""
from ranvier import _C
from ranvier.optim.optimizer import (Optimizer, _check_betas, _check_lr, _check_nonneg,
                                     _group_state, _params_with_grad)

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    """Adam: m = lerp(m, g, 1 - beta1), v = beta2 v + (1 - beta2) g^2,
    p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps); with amsgrad the running
    maximum of v is used. weight_decay adds weight_decay * p to g, or with
    decoupled_weight_decay (AdamW) multiplies p by 1 - lr * weight_decay first."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False, fused=None, decoupled_weight_decay=False):
        lr = _check_lr(lr)
        _check_nonneg(eps, "epsilon")
        _check_betas(betas)
        _check_nonneg(weight_decay, "weight_decay")
        if differentiable:
            raise NotImplementedError(f"{type(self).__name__}: differentiable=True is not "
                                      "supported")
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, maximize=maximize, foreach=foreach,
                        capturable=capturable, differentiable=differentiable, fused=fused,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def step(self, closure=None):
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            params, grads = _params_with_grad(group)
            if not params:
                continue
            amsgrad = bool(group["amsgrad"])
            keys = ("exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if amsgrad else ())
            lists, steps = _group_state(self, params, keys)
            exp_avgs, exp_avg_sqs = lists[0], lists[1]
            max_sqs = lists[2] if amsgrad else []
            beta1, beta2 = group["betas"]
            _C._optim_adam_(params, grads, exp_avgs, exp_avg_sqs, max_sqs, steps,
                            float(group["lr"]), float(beta1), float(beta2), float(group["eps"]),
                            float(group["weight_decay"]), amsgrad, bool(group["maximize"]),
                            bool(group.get("decoupled_weight_decay", False)))
        return loss


class AdamW(Adam):
    """Adam with decoupled weight decay (default weight_decay=1e-2)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False, foreach=None, capturable=False,
                 differentiable=False, fused=None):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, foreach=foreach, maximize=maximize,
                         capturable=capturable, differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)
