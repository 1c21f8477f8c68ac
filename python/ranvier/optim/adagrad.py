"""Adagrad with lr_decay, initial_accumulator_value, weight_decay and maximize. As in PyTorch
the state ('step', 'sum') is created when the optimizer is built."""
import ranvier
from ranvier import _C
from ranvier.optim.optimizer import (Optimizer, _as_step, _check_lr, _check_nonneg,
                                     _params_with_grad, _scalar_step)

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """Adagrad: sum += g^2, p -= lr / (1 + (t - 1) lr_decay) * g / (sqrt(sum) + eps)."""

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                 eps=1e-10, foreach=None, *, maximize=False, differentiable=False, fused=None):
        lr = _check_lr(lr)
        _check_nonneg(lr_decay, "lr_decay")
        _check_nonneg(weight_decay, "weight_decay")
        _check_nonneg(initial_accumulator_value, "initial_accumulator_value")
        _check_nonneg(eps, "epsilon")
        if differentiable:
            raise NotImplementedError("Adagrad: differentiable=True is not supported")
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                state = self.state[p]
                state["step"] = _scalar_step()
                state["sum"] = ranvier.full_like(p, float(group["initial_accumulator_value"]))

    def step(self, closure=None):
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            params, grads = _params_with_grad(group)
            if not params:
                continue
            sums, steps = [], []
            for p in params:
                state = self.state[p]
                if "sum" not in state:
                    state["step"] = _scalar_step()
                    state["sum"] = ranvier.full_like(p, float(group["initial_accumulator_value"]))
                state["step"] = _as_step(state["step"])
                sums.append(state["sum"])
                steps.append(state["step"])
            _C._optim_adagrad_(params, grads, sums, steps, float(group["lr"]),
                               float(group["lr_decay"]), float(group["weight_decay"]),
                               float(group["eps"]), bool(group["maximize"]))
        return loss
