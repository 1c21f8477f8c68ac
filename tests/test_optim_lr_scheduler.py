"""ranvier.optim.lr_scheduler: learning rates over many epochs against closed forms written
here from the schedules' definitions, state_dict round trips, and argument errors."""
import math
import warnings

import numpy as np
import pytest

import ranvier
from ranvier import optim
from ranvier.optim import lr_scheduler as S
from helpers import from_np


def make_opt(lrs=(0.1,), cls=optim.SGD, **kw):
    groups = [{"params": [from_np(np.ones(2), requires_grad=True)], "lr": lr} for lr in lrs]
    return cls(groups, **kw)


def lrs_over(sched, opt, epochs):
    """[lr of each group] at epoch 0 .. epochs-1 (construction gives epoch 0)."""
    out = []
    for _ in range(epochs):
        out.append([g["lr"] for g in opt.param_groups])
        assert sched.get_last_lr() == out[-1]
        opt.step()
        sched.step()
    return np.array(out)


def check(sched_fn, closed, epochs=60, lrs=(0.1, 0.03)):
    opt = make_opt(lrs)
    sched = sched_fn(opt)
    got = lrs_over(sched, opt, epochs)
    want = np.array([[closed(base, t) for base in lrs] for t in range(epochs)])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
    return sched, opt


def test_lambda_lr():
    check(lambda o: S.LambdaLR(o, lambda e: 0.95 ** e + 0.01 * e),
          lambda b, t: b * (0.95 ** t + 0.01 * t))
    opt = make_opt((0.1, 0.2))
    S.LambdaLR(opt, [lambda e: 1.0, lambda e: 0.5])
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.1]
    with pytest.raises(ValueError, match="Expected 2 lr_lambdas, but got 3"):
        S.LambdaLR(make_opt((0.1, 0.2)), [lambda e: 1.0] * 3)


def test_multiplicative_lr():
    check(lambda o: S.MultiplicativeLR(o, lambda e: 0.9 if e % 2 else 0.99),
          lambda b, t: b * np.prod([0.9 if e % 2 else 0.99 for e in range(1, t + 1)]))


def test_step_lr():
    check(lambda o: S.StepLR(o, step_size=7, gamma=0.5), lambda b, t: b * 0.5 ** (t // 7))


def test_multistep_lr():
    ms = [5, 12, 12, 30]
    check(lambda o: S.MultiStepLR(o, milestones=ms, gamma=0.3),
          lambda b, t: b * 0.3 ** sum(m <= t for m in ms))


def test_constant_lr():
    check(lambda o: S.ConstantLR(o, factor=0.25, total_iters=9),
          lambda b, t: b * (0.25 if t < 9 else 1.0))
    with pytest.raises(ValueError, match="between 0 and 1"):
        S.ConstantLR(make_opt(), factor=1.5)


def test_linear_lr():
    check(lambda o: S.LinearLR(o, start_factor=0.1, end_factor=0.8, total_iters=20),
          lambda b, t: b * (0.1 + 0.7 * min(t, 20) / 20))
    with pytest.raises(ValueError, match="Starting multiplicative factor"):
        S.LinearLR(make_opt(), start_factor=0)
    with pytest.raises(ValueError, match="Ending multiplicative factor"):
        S.LinearLR(make_opt(), end_factor=1.5)


def test_exponential_lr():
    check(lambda o: S.ExponentialLR(o, gamma=0.93), lambda b, t: b * 0.93 ** t)


def test_polynomial_lr():
    check(lambda o: S.PolynomialLR(o, total_iters=25, power=2.5),
          lambda b, t: b * (1 - min(t, 25) / 25) ** 2.5)


def test_cosine_annealing_lr():
    # within the first half-period the recursive form equals the closed form; past T_max the
    # schedule climbs back (PyTorch's recursive form is periodic with period 2 T_max)
    check(lambda o: S.CosineAnnealingLR(o, T_max=15, eta_min=0.001),
          lambda b, t: 0.001 + (b - 0.001) * (1 + math.cos(math.pi * t / 15)) / 2, epochs=45)


def test_cosine_annealing_warm_restarts():
    def closed(b, t, T0=4, mult=2, lo=0.002):
        Ti, tc = T0, t
        while tc >= Ti:
            tc -= Ti
            Ti *= mult
        return lo + (b - lo) * (1 + math.cos(math.pi * tc / Ti)) / 2

    check(lambda o: S.CosineAnnealingWarmRestarts(o, T_0=4, T_mult=2, eta_min=0.002), closed)
    check(lambda o: S.CosineAnnealingWarmRestarts(o, T_0=5),
          lambda b, t: b * (1 + math.cos(math.pi * (t % 5) / 5)) / 2)
    # fractional epochs through step(epoch)
    opt = make_opt((0.1,))
    s = S.CosineAnnealingWarmRestarts(opt, T_0=4, T_mult=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s.step(6.5)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1 * (1 + math.cos(math.pi * 2.5 / 8)) / 2)
    with pytest.raises(ValueError, match="positive integer T_0"):
        S.CosineAnnealingWarmRestarts(make_opt(), T_0=0)
    with pytest.raises(ValueError, match="T_mult >= 1"):
        S.CosineAnnealingWarmRestarts(make_opt(), T_0=3, T_mult=0)


def _tri(t, up, down):
    """Position in the cycle as (cycle index, fraction of the way to the peak)."""
    total = up + down
    cycle = math.floor(1 + t / total)
    x = 1 + t / total - cycle
    return cycle, (x * total / up if x <= up / total else (1 - x) * total / down)


@pytest.mark.parametrize("mode", ["triangular", "triangular2", "exp_range"])
def test_cyclic_lr(mode):
    up, down, gamma = 5, 3, 0.97
    opt = make_opt((0.1, 0.1), momentum=0.9)
    sched = S.CyclicLR(opt, base_lr=[0.01, 0.02], max_lr=0.1, step_size_up=up,
                       step_size_down=down, mode=mode, gamma=gamma, base_momentum=0.8,
                       max_momentum=0.95)
    for t in range(40):
        cycle, h = _tri(t, up, down)
        scale = {"triangular": 1.0, "triangular2": 1 / 2 ** (cycle - 1),
                 "exp_range": gamma ** t}[mode]
        for g, base in zip(opt.param_groups, [0.01, 0.02]):
            assert g["lr"] == pytest.approx(base + (0.1 - base) * h * scale, rel=1e-12)
            assert g["momentum"] == pytest.approx(0.95 - 0.15 * h * scale, rel=1e-12)
        opt.step()
        sched.step()


def test_cyclic_lr_with_adam_betas_and_custom_scale():
    opt = make_opt((0.1,), cls=optim.Adam, betas=(0.9, 0.99))
    sched = S.CyclicLR(opt, 0.001, 0.01, step_size_up=4, scale_fn=lambda x: 0.5,
                       scale_mode="iterations")
    for t in range(20):
        _, h = _tri(t, 4, 4)
        assert opt.param_groups[0]["lr"] == pytest.approx(0.001 + 0.009 * h * 0.5)
        assert opt.param_groups[0]["betas"][0] == pytest.approx(0.9 - 0.1 * h * 0.5)
        assert opt.param_groups[0]["betas"][1] == 0.99
        sched.step()
    with pytest.raises(ValueError, match="mode is invalid"):
        S.CyclicLR(make_opt(), 0.01, 0.1, mode="square")
    with pytest.raises(ValueError, match="momentum or beta1"):
        S.CyclicLR(make_opt(cls=optim.Adagrad), 0.01, 0.1)
    with pytest.raises(ValueError, match="same length as optimizer.param_groups"):
        S.CyclicLR(make_opt(), [0.01, 0.02], 0.1)


@pytest.mark.parametrize("three_phase", [False, True])
@pytest.mark.parametrize("anneal", ["cos", "linear"])
def test_one_cycle_lr(three_phase, anneal):
    total, pct, top, div, fdiv = 50, 0.3, 0.2, 25.0, 1e4
    opt = make_opt((0.1,), momentum=0.9)
    sched = S.OneCycleLR(opt, max_lr=top, total_steps=total, pct_start=pct,
                         anneal_strategy=anneal, three_phase=three_phase, div_factor=div,
                         final_div_factor=fdiv)

    def ann(a, b, f):
        return b + (a - b) / 2 * (math.cos(math.pi * f) + 1) if anneal == "cos" \
            else a + (b - a) * f

    init, low = top / div, top / div / fdiv
    e1 = pct * total - 1
    if three_phase:
        phases = [(0, e1, init, top, 0.95, 0.85), (e1, 2 * pct * total - 2, top, init, 0.85, 0.95),
                  (2 * pct * total - 2, total - 1, init, low, 0.95, 0.95)]
    else:
        phases = [(0, e1, init, top, 0.95, 0.85), (e1, total - 1, top, low, 0.85, 0.95)]
    for t in range(total):
        for i, (s0, s1, a, b, ma, mb) in enumerate(phases):
            if t <= s1 or i == len(phases) - 1:
                f = (t - s0) / (s1 - s0)
                break
        assert opt.param_groups[0]["lr"] == pytest.approx(ann(a, b, f), rel=1e-12)
        assert opt.param_groups[0]["momentum"] == pytest.approx(ann(ma, mb, f), rel=1e-12)
        opt.step()
        if t < total - 1:
            sched.step()
    sched.step()
    with pytest.raises(ValueError, match="Tried to step 51 times"):
        sched.step()
    with pytest.raises(ValueError, match="total_steps OR"):
        S.OneCycleLR(make_opt(momentum=0.9), max_lr=0.1)
    with pytest.raises(ValueError, match="pct_start"):
        S.OneCycleLR(make_opt(momentum=0.9), max_lr=0.1, total_steps=10, pct_start=1.5)
    with pytest.raises(ValueError, match="anneal_strategy"):
        S.OneCycleLR(make_opt(momentum=0.9), max_lr=0.1, total_steps=10, anneal_strategy="x")


def test_reduce_lr_on_plateau():
    opt = make_opt((0.1, 0.01))
    sched = S.ReduceLROnPlateau(opt, mode="min", factor=0.5, patience=2, cooldown=1,
                                min_lr=[0.0, 0.004], threshold=0.1)
    # metric stalls: reductions after 3 bad epochs, then 1 cooldown epoch
    metrics = [1.0, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.5]
    want = []
    lr = [0.1, 0.01]
    best, bad, cool = math.inf, 0, 0
    for m in metrics:
        if m < best * (1 - 0.1):
            best, bad = m, 0
        else:
            bad += 1
        if cool > 0:
            cool -= 1
            bad = 0
        if bad > 2:
            lr = [max(lr[0] * 0.5, 0.0), max(lr[1] * 0.5, 0.004)]
            cool, bad = 1, 0
        want.append(list(lr))
        sched.step(m)
        assert sched.get_last_lr() == pytest.approx(want[-1])
    assert want[-1] == pytest.approx([0.025, 0.004])  # the check is not vacuous
    sd = sched.state_dict()
    assert "optimizer" not in sd and sd["best"] == 0.5
    s2 = S.ReduceLROnPlateau(make_opt((0.1, 0.01)), mode="max")
    s2.load_state_dict(sd)
    assert s2.mode == "min" and s2.is_better(0.1, 0.5)
    with pytest.raises(ValueError, match="Factor should be < 1.0"):
        S.ReduceLROnPlateau(opt, factor=1.0)
    with pytest.raises(ValueError, match="mode avg is unknown"):
        S.ReduceLROnPlateau(opt, mode="avg")
    with pytest.raises(ValueError, match="expected 2 min_lrs, got 1"):
        S.ReduceLROnPlateau(opt, min_lr=[0.1])


def test_sequential_lr():
    opt = make_opt((0.1,))
    warm = S.LinearLR(opt, start_factor=0.2, total_iters=4)
    decay = S.ExponentialLR(opt, gamma=0.9)
    sched = S.SequentialLR(opt, [warm, decay], milestones=[6])
    got = lrs_over(sched, opt, 20)[:, 0]
    want = [0.1 * (0.2 + 0.8 * min(t, 4) / 4) if t < 6 else 0.1 * 0.9 ** (t - 6)
            for t in range(20)]
    np.testing.assert_allclose(got, want, rtol=1e-12)
    with pytest.raises(ValueError, match="one more than the number of milestone"):
        S.SequentialLR(opt, [warm, decay], milestones=[3, 6])
    with pytest.raises(ValueError, match="same optimizer"):
        S.SequentialLR(opt, [warm, S.StepLR(make_opt(), 3)], milestones=[3])
    with pytest.raises(ValueError, match="ReduceLROnPlateau"):
        S.SequentialLR(opt, [warm, S.ReduceLROnPlateau(opt)], milestones=[3])


def test_chained_scheduler():
    opt = make_opt((0.1,))
    sched = S.ChainedScheduler([S.ConstantLR(opt, factor=0.5, total_iters=3),
                                S.ExponentialLR(opt, gamma=0.9)])
    got = lrs_over(sched, opt, 15)[:, 0]
    want = [0.1 * 0.9 ** t * (0.5 if t < 3 else 1.0) for t in range(15)]
    np.testing.assert_allclose(got, want, rtol=1e-12)


@pytest.mark.parametrize("make", [
    lambda o: S.StepLR(o, 3, 0.5),
    lambda o: S.CosineAnnealingLR(o, 10),
    lambda o: S.CosineAnnealingWarmRestarts(o, 3, 2),
    lambda o: S.OneCycleLR(o, 0.5, total_steps=40),
    lambda o: S.CyclicLR(o, 0.01, 0.1, step_size_up=3),
    lambda o: S.SequentialLR(o, [S.ConstantLR(o, 0.5, 2), S.ExponentialLR(o, 0.9)], [4]),
], ids=["step", "cosine", "warm_restarts", "one_cycle", "cyclic", "sequential"])
def test_state_dict_resume(make):
    def fresh():
        return make_opt((0.1,), momentum=0.9)

    opt = fresh()
    s = make(opt)
    for _ in range(7):
        opt.step()
        s.step()
    sd = s.state_dict()
    assert "optimizer" not in sd
    opt_sd = opt.state_dict()
    rest = []
    for _ in range(10):
        opt.step()
        s.step()
        rest.append(opt.param_groups[0]["lr"])
    opt2 = fresh()
    s2 = make(opt2)
    opt2.load_state_dict(opt_sd)
    s2.load_state_dict(sd)
    got = []
    for _ in range(10):
        opt2.step()
        s2.step()
        got.append(opt2.param_groups[0]["lr"])
    np.testing.assert_allclose(got, rest, rtol=1e-12)


def test_resume_needs_initial_lr():
    with pytest.raises(KeyError, match="initial_lr"):
        S.StepLR(make_opt(), 3, last_epoch=5)
    opt = make_opt((0.1,))
    S.StepLR(opt, 3)
    s = S.StepLR(opt, 3, 0.5, last_epoch=5)  # resumes at epoch 5; its initial step makes it 6
    assert s.last_epoch == 6 and s.base_lrs == [0.1]
