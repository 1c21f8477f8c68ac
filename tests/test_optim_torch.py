"""ranvier.optim against PyTorch (skipped without torch): 50 steps of each optimizer on the
same small MLP from the same initial parameters and data give the same parameters to float32
round-off; the schedulers give the same learning rates; state_dicts have the same layout."""
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import ranvier  # noqa: E402
from ranvier import nn, optim  # noqa: E402
from ranvier.optim import lr_scheduler as S  # noqa: E402


def mlp_pair(seed=0):
    rng = np.random.default_rng(seed)
    sizes = [(8, 5), (8,), (3, 8), (3,)]
    init = [rng.standard_normal(s).astype(np.float32) * 0.5 for s in sizes]
    x = rng.standard_normal((16, 5)).astype(np.float32)
    y = rng.standard_normal((16, 3)).astype(np.float32)
    return init, x, y


def run(lib, cls_name, kwargs, steps=50, closure_based=False):
    init, x, y = mlp_pair()
    params = [lib.tensor(a.copy(), requires_grad=True) for a in init]
    opt = getattr(lib.optim, cls_name)(params, **kwargs)
    X, Y = lib.tensor(x), lib.tensor(y)

    def closure():
        opt.zero_grad()
        h = (X @ params[0].t() + params[1]).tanh()
        out = h @ params[2].t() + params[3]
        loss = ((out - Y) ** 2).mean()
        loss.backward()
        return loss

    for _ in range(steps):
        if closure_based:
            opt.step(closure)
        else:
            closure()
            opt.step()
    return [np.array(p.detach().numpy()) for p in params], opt


OPTS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-2)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.5, maximize=False)),
    ("Adam", dict(lr=1e-2)),
    ("Adam", dict(lr=1e-2, amsgrad=True, weight_decay=1e-2)),
    ("AdamW", dict(lr=1e-2)),
    ("AdamW", dict(lr=1e-2, amsgrad=True, weight_decay=0.1)),
    ("RMSprop", dict(lr=1e-2)),
    ("RMSprop", dict(lr=1e-2, momentum=0.9, centered=True, weight_decay=1e-2)),
    ("Adagrad", dict(lr=0.1, lr_decay=1e-2, initial_accumulator_value=0.1)),
    ("Adadelta", dict(lr=1.0, weight_decay=1e-2)),
    ("Adamax", dict(lr=1e-2, weight_decay=1e-2)),
    ("NAdam", dict(lr=1e-2)),
    ("NAdam", dict(lr=1e-2, weight_decay=1e-2, decoupled_weight_decay=True)),
    ("RAdam", dict(lr=1e-2)),
    ("RAdam", dict(lr=1e-2, weight_decay=1e-2, decoupled_weight_decay=True)),
]


@pytest.mark.parametrize("name,kwargs", OPTS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(OPTS)])
def test_optimizer_matches_torch(name, kwargs):
    ours, ropt = run(ranvier, name, kwargs)
    theirs, topt = run(torch, name, kwargs)
    init, _, _ = mlp_pair()
    for a, b, c in zip(ours, theirs, init):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=2e-5)
        assert not np.allclose(b, c)
    sd_r, sd_t = ropt.state_dict(), topt.state_dict()
    assert sd_r["param_groups"][0].keys() == sd_t["param_groups"][0].keys()
    for k in sd_t["param_groups"][0]:
        assert sd_r["param_groups"][0][k] == sd_t["param_groups"][0][k], k
    assert sd_r["state"].keys() == sd_t["state"].keys()
    for i in sd_t["state"]:
        assert list(sd_r["state"][i]) == list(sd_t["state"][i])
        for k, v in sd_t["state"][i].items():
            np.testing.assert_allclose(np.asarray(sd_r["state"][i][k].numpy()), v.numpy(),
                                       rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("ls", [None, "strong_wolfe"])
def test_lbfgs_matches_torch(ls):
    kw = dict(lr=0.5 if ls is None else 1.0, max_iter=5, history_size=4, line_search_fn=ls)
    ours, _ = run(ranvier, "LBFGS", kw, steps=4, closure_based=True)
    theirs, _ = run(torch, "LBFGS", kw, steps=4, closure_based=True)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)


SCHEDS = [
    ("LambdaLR", lambda m, o: m.LambdaLR(o, lambda e: 1 / (1 + e))),
    ("MultiplicativeLR", lambda m, o: m.MultiplicativeLR(o, lambda e: 0.97)),
    ("StepLR", lambda m, o: m.StepLR(o, 7, 0.3)),
    ("MultiStepLR", lambda m, o: m.MultiStepLR(o, [3, 9, 9, 20], 0.5)),
    ("ConstantLR", lambda m, o: m.ConstantLR(o, 0.4, 6)),
    ("LinearLR", lambda m, o: m.LinearLR(o, 0.1, 0.9, 13)),
    ("ExponentialLR", lambda m, o: m.ExponentialLR(o, 0.95)),
    ("PolynomialLR", lambda m, o: m.PolynomialLR(o, 30, 1.7)),
    ("CosineAnnealingLR", lambda m, o: m.CosineAnnealingLR(o, 12, 1e-3)),
    ("CosineAnnealingWarmRestarts", lambda m, o: m.CosineAnnealingWarmRestarts(o, 5, 2, 1e-3)),
    ("CyclicLR", lambda m, o: m.CyclicLR(o, 0.01, 0.1, 4, 6, mode="triangular2")),
    ("CyclicLR-exp", lambda m, o: m.CyclicLR(o, 0.01, 0.1, 5, mode="exp_range", gamma=0.98)),
    ("OneCycleLR", lambda m, o: m.OneCycleLR(o, 0.3, total_steps=61)),
    ("OneCycleLR-3", lambda m, o: m.OneCycleLR(o, 0.3, total_steps=61, three_phase=True,
                                               anneal_strategy="linear")),
    ("SequentialLR", lambda m, o: m.SequentialLR(
        o, [m.LinearLR(o, 0.1, total_iters=5), m.CosineAnnealingLR(o, 20)], [8])),
    ("ChainedScheduler", lambda m, o: m.ChainedScheduler(
        [m.StepLR(o, 5, 0.5), m.ExponentialLR(o, 0.97)])),
]


@pytest.mark.parametrize("name,make", SCHEDS, ids=[s[0] for s in SCHEDS])
def test_scheduler_matches_torch(name, make):
    def lrs(lib, mod):
        p = lib.zeros(2, requires_grad=True)
        opt = lib.optim.SGD([{"params": [p], "lr": 0.2}], lr=0.2, momentum=0.9)
        sched = make(mod, opt)
        out = []
        for _ in range(60):
            out.append((opt.param_groups[0]["lr"], opt.param_groups[0]["momentum"],
                        sched.get_last_lr()[0]))
            opt.step()
            sched.step()
        return np.array(out), sched

    ours, s_r = lrs(ranvier, S)
    theirs, s_t = lrs(torch, torch.optim.lr_scheduler)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)
    assert getattr(s_r, "last_epoch", None) == getattr(s_t, "last_epoch", None)


def test_plateau_matches_torch():
    metrics = [1.0, 0.9, 0.9, 0.91, 0.92, 0.89, 0.95, 0.96, 0.97, 0.5, 0.6, 0.6, 0.6, 0.6] * 3

    def lrs(lib, mod):
        p = lib.zeros(2, requires_grad=True)
        opt = lib.optim.SGD([p], lr=0.2)
        sched = mod.ReduceLROnPlateau(opt, factor=0.5, patience=1, cooldown=2, min_lr=0.01)
        out = []
        for m in metrics:
            opt.step()
            sched.step(m)
            out.append(opt.param_groups[0]["lr"])
        return out

    assert lrs(ranvier, S) == pytest.approx(lrs(torch, torch.optim.lr_scheduler), rel=1e-12)
