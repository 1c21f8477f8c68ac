"""SGD: stochastic gradient descent with momentum, dampening, Nesterov momentum, L2 weight
decay, an optional L1 penalty (``l1``) and maximize. One fused C++ call per group."""
import ranvier
from ranvier import _C
from ranvier.optim.optimizer import Optimizer, _check_lr, _check_nonneg, _params_with_grad

__all__ = ["SGD"]


class SGD(Optimizer):
    """SGD as in PyTorch: with g = grad (+ weight_decay * p), the momentum buffer is
    b = momentum * b + (1 - dampening) * g (b = g on the first step), the direction is
    g + momentum * b with nesterov, else b, and p -= lr * direction."""

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0,
                 nesterov=False, *, maximize=False, foreach=None, differentiable=False,
                 fused=None):
        lr = _check_lr(lr)
        _check_nonneg(momentum, "momentum")
        _check_nonneg(weight_decay, "weight_decay")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        if differentiable:
            raise NotImplementedError("SGD: differentiable=True is not supported")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize,
                        foreach=foreach, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)

    def step(self, closure=None):
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            params, grads = _params_with_grad(group)
            if not params:
                continue
            momentum = group["momentum"]
            bufs = None
            if momentum != 0:
                bufs = [self.state[p].get("momentum_buffer") for p in params]
            new_bufs = _C._optim_sgd_(params, grads, bufs, float(group["lr"]), float(momentum),
                                      float(group["dampening"]), float(group["weight_decay"]),
                                      bool(group["nesterov"]), bool(group["maximize"]))
            if momentum != 0:
                for p, b in zip(params, new_bufs):
                    self.state[p]["momentum_buffer"] = b
        return loss
