"""Every optimizer of ranvier.optim and each of its options against the NumPy references in
optim_reference.py: 50 steps on a small non-quadratic problem with parameters of several shapes
(one non-contiguous, one empty, one 0-d), float64 to 1e-10 and float32 to round-off."""
import numpy as np
import pytest

import ranvier
from ranvier import optim
from helpers import from_np, to_np
import optim_reference as ref

SHAPES = [(5, 3), (3,), (2, 2, 2), (0, 3), (), (4, 1)]


def problem(dtype, seed=0):
    """Initial values and the constants of f(p) = sum(c p^2 / 2 + b p + 0.3 sin p)."""
    rng = np.random.default_rng(seed)
    values = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    cs = [rng.uniform(0.5, 2.0, s).astype(dtype) for s in SHAPES]
    bs = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    return values, cs, bs


def make_params(values):
    params = []
    for i, v in enumerate(values):
        if i == 0:  # a non-contiguous leaf: the transpose of a contiguous tensor
            t = from_np(np.ascontiguousarray(v.T)).t()
            assert not t.is_contiguous()
            t.requires_grad_(True)
        else:
            t = from_np(v, requires_grad=True)
        params.append(t)
    return params


def loss_of(params, cs, bs, sign):
    total = None
    for p, c, b in zip(params, cs, bs):
        c, b = from_np(c), from_np(b)
        term = (c * p * p * 0.5 + b * p + (p.sin() * 0.3)).sum()
        total = term if total is None else total + term
    return total * sign


def np_grads(values, cs, bs, sign):
    return [sign * (c * v + b + v.dtype.type(0.3) * np.cos(v)) for v, c, b in zip(values, cs, bs)]


def run_ranvier(cls, kwargs, values, cs, bs, steps, sign=1.0):
    params = make_params(values)
    opt = cls(params, **kwargs)
    for _ in range(steps):
        opt.zero_grad()
        loss_of(params, cs, bs, sign).backward()
        opt.step()
    return [to_np(p) for p in params], opt


def run_ref(ref_cls, kwargs, values, cs, bs, steps, sign=1.0):
    vals = [v.copy() for v in values]
    r = ref_cls(**kwargs)
    for _ in range(steps):
        r.step(vals, np_grads(vals, cs, bs, sign))
    return vals


CASES = [
    (optim.SGD, ref.RefSGD, dict(lr=0.05)),
    (optim.SGD, ref.RefSGD, dict(lr=0.05, momentum=0.9)),
    (optim.SGD, ref.RefSGD, dict(lr=0.05, momentum=0.8, dampening=0.3, weight_decay=0.1)),
    (optim.SGD, ref.RefSGD, dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    (optim.SGD, ref.RefSGD, dict(lr=0.05, momentum=0.5, maximize=True)),
    (optim.Adam, ref.RefAdam, dict(lr=0.05)),
    (optim.Adam, ref.RefAdam, dict(lr=0.05, betas=(0.8, 0.99), weight_decay=0.1)),
    (optim.Adam, ref.RefAdam, dict(lr=0.05, amsgrad=True, maximize=True)),
    (optim.Adam, ref.RefAdam, dict(lr=0.01, betas=(0.3, 0.9), eps=1e-3)),
    (optim.AdamW, ref.RefAdam, dict(lr=0.05)),
    (optim.AdamW, ref.RefAdam, dict(lr=0.05, weight_decay=0.3, amsgrad=True)),
    (optim.RMSprop, ref.RefRMSprop, dict(lr=0.01)),
    (optim.RMSprop, ref.RefRMSprop, dict(lr=0.01, alpha=0.9, momentum=0.5, weight_decay=0.1)),
    (optim.RMSprop, ref.RefRMSprop, dict(lr=0.01, centered=True, eps=1e-4)),
    (optim.RMSprop, ref.RefRMSprop, dict(lr=0.01, centered=True, momentum=0.9, maximize=True)),
    (optim.Adagrad, ref.RefAdagrad, dict(lr=0.1)),
    (optim.Adagrad, ref.RefAdagrad, dict(lr=0.1, lr_decay=0.05, weight_decay=0.1,
                                         initial_accumulator_value=0.5)),
    (optim.Adagrad, ref.RefAdagrad, dict(lr=0.1, eps=1e-3, maximize=True)),
    (optim.Adadelta, ref.RefAdadelta, dict()),
    (optim.Adadelta, ref.RefAdadelta, dict(lr=0.5, rho=0.8, eps=1e-4, weight_decay=0.1)),
    (optim.Adadelta, ref.RefAdadelta, dict(maximize=True)),
    (optim.Adamax, ref.RefAdamax, dict(lr=0.05)),
    (optim.Adamax, ref.RefAdamax, dict(lr=0.05, betas=(0.7, 0.9), weight_decay=0.1,
                                       maximize=True)),
    (optim.NAdam, ref.RefNAdam, dict(lr=0.05)),
    (optim.NAdam, ref.RefNAdam, dict(lr=0.05, weight_decay=0.1, momentum_decay=0.01)),
    (optim.NAdam, ref.RefNAdam, dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True,
                                     maximize=True)),
    (optim.RAdam, ref.RefRAdam, dict(lr=0.05)),
    (optim.RAdam, ref.RefRAdam, dict(lr=0.05, weight_decay=0.1, betas=(0.9, 0.9))),
    (optim.RAdam, ref.RefRAdam, dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True,
                                     maximize=True)),
]


def _ref_kwargs(cls, kwargs):
    kw = dict(kwargs)
    if cls is optim.AdamW:
        kw.setdefault("weight_decay", 1e-2)
        kw["decoupled"] = True
    return kw


def _ids(case):
    cls, _, kw = case
    return cls.__name__ + "-" + "-".join(f"{k}={v}" for k, v in kw.items())


@pytest.mark.parametrize("case", CASES, ids=[_ids(c) for c in CASES])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_matches_reference(case, dtype):
    cls, ref_cls, kwargs = case
    sign = -1.0 if kwargs.get("maximize") else 1.0
    values, cs, bs = problem(dtype)
    got, opt = run_ranvier(cls, kwargs, values, cs, bs, 50, sign)
    want = run_ref(ref_cls, _ref_kwargs(cls, kwargs), values, cs, bs, 50, sign)
    tol = dict(rtol=1e-9, atol=1e-10) if dtype == np.float64 else dict(rtol=2e-4, atol=2e-5)
    for g, w, v in zip(got, want, values):
        assert g.dtype == dtype and g.shape == w.shape
        np.testing.assert_allclose(g, w, **tol)
    # the parameters moved (the check is not vacuous)
    assert not np.allclose(got[1], values[1])


def test_mixed_dtypes_in_one_group():
    v64, cs, bs = problem(np.float64, seed=3)
    values = [v.astype(np.float32) if i % 2 else v for i, v in enumerate(v64)]
    cs = [c.astype(v.dtype) for c, v in zip(cs, values)]
    bs = [b.astype(v.dtype) for b, v in zip(bs, values)]
    got, _ = run_ranvier(optim.Adam, dict(lr=0.05), values, cs, bs, 20)
    want = run_ref(ref.RefAdam, dict(lr=0.05), values, cs, bs, 20)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype
        tol = 1e-10 if g.dtype == np.float64 else 2e-4
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol / 10)
