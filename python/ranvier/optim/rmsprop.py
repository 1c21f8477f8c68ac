"""RMSprop with alpha, eps, momentum, centered, weight_decay and maximize. State per parameter:
'step', 'square_avg', 'momentum_buffer' (momentum > 0) and 'grad_avg' (centered)."""
from ranvier import _C
from ranvier.optim.optimizer import (Optimizer, _check_lr, _check_nonneg, _group_state,
                                     _params_with_grad)

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """RMSprop: s = alpha s + (1 - alpha) g^2; with centered, a = lerp(a, g, 1 - alpha) and the
    denominator is sqrt(s - a^2) + eps, else sqrt(s) + eps; with momentum,
    b = momentum b + g / denom and p -= lr b, else p -= lr g / denom."""

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, capturable=False, foreach=None, maximize=False,
                 differentiable=False):
        lr = _check_lr(lr)
        _check_nonneg(eps, "epsilon")
        _check_nonneg(momentum, "momentum")
        _check_nonneg(weight_decay, "weight_decay")
        _check_nonneg(alpha, "alpha")
        if differentiable:
            raise NotImplementedError("RMSprop: differentiable=True is not supported")
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, capturable=capturable, foreach=foreach,
                        maximize=maximize, differentiable=differentiable)
        super().__init__(params, defaults)

    def step(self, closure=None):
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            params, grads = _params_with_grad(group)
            if not params:
                continue
            momentum = float(group["momentum"])
            centered = bool(group["centered"])
            keys = (("square_avg",) + (("momentum_buffer",) if momentum > 0 else ())
                    + (("grad_avg",) if centered else ()))
            lists, steps = _group_state(self, params, keys)
            square_avgs = lists[0]
            bufs = lists[1] if momentum > 0 else []
            grad_avgs = lists[-1] if centered else []
            _C._optim_rmsprop_(params, grads, square_avgs, grad_avgs, bufs, steps,
                               float(group["lr"]), float(group["alpha"]), float(group["eps"]),
                               float(group["weight_decay"]), momentum, centered,
                               bool(group["maximize"]))
        return loss
