"""NumPy re-implementations of the published update rules of the optimizers in ranvier.optim,
used as the reference in tests/test_optim_*.py. Each reference keeps its own state and applies
one step to a list of NumPy arrays given their gradients; arithmetic follows the dtype of the
arrays (scalars such as bias corrections are Python floats, i.e. double)."""
import math

import numpy as np


class RefSGD:
    def __init__(self, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False,
                 maximize=False):
        self.__dict__.update(lr=lr, momentum=momentum, dampening=dampening,
                             weight_decay=weight_decay, nesterov=nesterov, maximize=maximize)
        self.bufs = {}

    def step(self, params, grads):
        for i, (p, g) in enumerate(zip(params, grads)):
            g = -g if self.maximize else g
            if self.weight_decay:
                g = g + self.weight_decay * p
            if self.momentum:
                if i not in self.bufs:
                    self.bufs[i] = g.copy()
                else:
                    self.bufs[i] = self.momentum * self.bufs[i] + (1 - self.dampening) * g
                g = g + self.momentum * self.bufs[i] if self.nesterov else self.bufs[i]
            p -= self.lr * g


class RefAdam:
    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
                 maximize=False, decoupled=False):
        self.__dict__.update(lr=lr, b1=betas[0], b2=betas[1], eps=eps, wd=weight_decay,
                             amsgrad=amsgrad, maximize=maximize, decoupled=decoupled)
        self.m, self.v, self.vmax, self.t = {}, {}, {}, {}

    def step(self, params, grads):
        for i, (p, g) in enumerate(zip(params, grads)):
            g = -g if self.maximize else g
            if self.wd:
                if self.decoupled:
                    p *= 1 - self.lr * self.wd
                else:
                    g = g + self.wd * p
            t = self.t[i] = self.t.get(i, 0) + 1
            m = self.m[i] = self.b1 * self.m.get(i, 0 * p) + (1 - self.b1) * g
            v = self.v[i] = self.b2 * self.v.get(i, 0 * p) + (1 - self.b2) * g * g
            if self.amsgrad:
                v = self.vmax[i] = np.maximum(self.vmax.get(i, 0 * p), v)
            mhat_scale = self.lr / (1 - self.b1 ** t)
            denom = np.sqrt(v) / math.sqrt(1 - self.b2 ** t) + self.eps
            p -= mhat_scale * m / denom


class RefRMSprop:
    def __init__(self, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                 centered=False, maximize=False):
        self.__dict__.update(lr=lr, alpha=alpha, eps=eps, wd=weight_decay, momentum=momentum,
                             centered=centered, maximize=maximize)
        self.sq, self.ga, self.buf = {}, {}, {}

    def step(self, params, grads):
        for i, (p, g) in enumerate(zip(params, grads)):
            g = -g if self.maximize else g
            if self.wd:
                g = g + self.wd * p
            sq = self.sq[i] = self.alpha * self.sq.get(i, 0 * p) + (1 - self.alpha) * g * g
            if self.centered:
                ga = self.ga[i] = self.alpha * self.ga.get(i, 0 * p) + (1 - self.alpha) * g
                avg = np.sqrt(sq - ga * ga) + self.eps
            else:
                avg = np.sqrt(sq) + self.eps
            if self.momentum > 0:
                b = self.buf[i] = self.momentum * self.buf.get(i, 0 * p) + g / avg
                p -= self.lr * b
            else:
                p -= self.lr * g / avg


class RefAdagrad:
    def __init__(self, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0,
                 eps=1e-10, maximize=False):
        self.__dict__.update(lr=lr, lr_decay=lr_decay, wd=weight_decay,
                             init=initial_accumulator_value, eps=eps, maximize=maximize)
        self.sum, self.t = {}, {}

    def step(self, params, grads):
        for i, (p, g) in enumerate(zip(params, grads)):
            g = -g if self.maximize else g
            if self.wd:
                g = g + self.wd * p
            t = self.t[i] = self.t.get(i, 0) + 1
            s = self.sum[i] = self.sum.get(i, 0 * p + self.init) + g * g
            clr = self.lr / (1 + (t - 1) * self.lr_decay)
            p -= clr * g / (np.sqrt(s) + self.eps)


class RefAdadelta:
    def __init__(self, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, maximize=False):
        self.__dict__.update(lr=lr, rho=rho, eps=eps, wd=weight_decay, maximize=maximize)
        self.sq, self.acc = {}, {}

    def step(self, params, grads):
        for i, (p, g) in enumerate(zip(params, grads)):
            g = -g if self.maximize else g
            if self.wd:
                g = g + self.wd * p
            sq = self.sq[i] = self.rho * self.sq.get(i, 0 * p) + (1 - self.rho) * g * g
            acc = self.acc.get(i, 0 * p)
            delta = np.sqrt(acc + self.eps) / np.sqrt(sq + self.eps) * g
            self.acc[i] = self.rho * acc + (1 - self.rho) * delta * delta
            p -= self.lr * delta


class RefAdamax:
    def __init__(self, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, maximize=False):
        self.__dict__.update(lr=lr, b1=betas[0], b2=betas[1], eps=eps, wd=weight_decay,
                             maximize=maximize)
        self.m, self.u, self.t = {}, {}, {}

    def step(self, params, grads):
        for i, (p, g) in enumerate(zip(params, grads)):
            g = -g if self.maximize else g
            if self.wd:
                g = g + self.wd * p
            t = self.t[i] = self.t.get(i, 0) + 1
            m = self.m[i] = self.b1 * self.m.get(i, 0 * p) + (1 - self.b1) * g
            u = self.u[i] = np.maximum(self.b2 * self.u.get(i, 0 * p), np.abs(g) + self.eps)
            p -= self.lr / (1 - self.b1 ** t) * m / u


class RefNAdam:
    def __init__(self, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 momentum_decay=4e-3, decoupled_weight_decay=False, maximize=False):
        self.__dict__.update(lr=lr, b1=betas[0], b2=betas[1], eps=eps, wd=weight_decay,
                             psi=momentum_decay, decoupled=decoupled_weight_decay,
                             maximize=maximize)
        self.m, self.v, self.t, self.prod = {}, {}, {}, {}

    def step(self, params, grads):
        for i, (p, g) in enumerate(zip(params, grads)):
            g = -g if self.maximize else g
            t = self.t[i] = self.t.get(i, 0) + 1
            if self.wd:
                if self.decoupled:
                    p *= 1 - self.lr * self.wd
                else:
                    g = g + self.wd * p
            mu = self.b1 * (1 - 0.5 * 0.96 ** (t * self.psi))
            mu_next = self.b1 * (1 - 0.5 * 0.96 ** ((t + 1) * self.psi))
            # the running product is kept as a float32 scalar (PyTorch's 'mu_product' state)
            prod = self.prod[i] = float(np.float32(self.prod.get(i, 1.0)) * np.float32(mu))
            m = self.m[i] = self.b1 * self.m.get(i, 0 * p) + (1 - self.b1) * g
            v = self.v[i] = self.b2 * self.v.get(i, 0 * p) + (1 - self.b2) * g * g
            denom = np.sqrt(v / (1 - self.b2 ** t)) + self.eps
            p -= self.lr * (1 - mu) / (1 - prod) * g / denom
            p -= self.lr * mu_next / (1 - prod * mu_next) * m / denom


class RefRAdam:
    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 decoupled_weight_decay=False, maximize=False):
        self.__dict__.update(lr=lr, b1=betas[0], b2=betas[1], eps=eps, wd=weight_decay,
                             decoupled=decoupled_weight_decay, maximize=maximize)
        self.m, self.v, self.t = {}, {}, {}

    def step(self, params, grads):
        rho_inf = 2 / (1 - self.b2) - 1
        for i, (p, g) in enumerate(zip(params, grads)):
            g = -g if self.maximize else g
            t = self.t[i] = self.t.get(i, 0) + 1
            if self.wd:
                if self.decoupled:
                    p *= 1 - self.lr * self.wd
                else:
                    g = g + self.wd * p
            m = self.m[i] = self.b1 * self.m.get(i, 0 * p) + (1 - self.b1) * g
            v = self.v[i] = self.b2 * self.v.get(i, 0 * p) + (1 - self.b2) * g * g
            mhat = m / (1 - self.b1 ** t)
            rho_t = rho_inf - 2 * t * self.b2 ** t / (1 - self.b2 ** t)
            if rho_t > 5:
                rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf
                                 / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
                p -= self.lr * mhat * rect * math.sqrt(1 - self.b2 ** t) / (np.sqrt(v) + self.eps)
            else:
                p -= self.lr * mhat
