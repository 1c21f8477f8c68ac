"""RMSprop with alpha, eps, momentum, centered, weight_decay and maximize. State per parameter:
'step', 'square_avg', 'momentum_buffer' (momentum > 0) and 'grad_avg' (centered)."""
import ranvier
from ranvier import _C
from ranvier.optim.optimizer import (Optimizer, _as_step, _check_lr, _check_nonneg,
                                     _params_with_grad, _scalar_step)

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
            square_avgs, grad_avgs, bufs, steps = [], [], [], []
            for p in params:
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = _scalar_step()
                    state["square_avg"] = ranvier.zeros_like(p)
                if momentum > 0 and "momentum_buffer" not in state:
                    state["momentum_buffer"] = ranvier.zeros_like(p)
                if centered and "grad_avg" not in state:
                    state["grad_avg"] = ranvier.zeros_like(p)
                state["step"] = _as_step(state["step"])
                square_avgs.append(state["square_avg"])
                if momentum > 0:
                    bufs.append(state["momentum_buffer"])
                if centered:
                    grad_avgs.append(state["grad_avg"])
                steps.append(state["step"])
            _C._optim_rmsprop_(params, grads, square_avgs, grad_avgs, bufs, steps,
                               float(group["lr"]), float(group["alpha"]), float(group["eps"]),
                               float(group["weight_decay"]), momentum, centered,
                               bool(group["maximize"]))
        return loss
