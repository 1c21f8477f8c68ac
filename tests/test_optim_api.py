"""ranvier.optim's Optimizer machinery: param groups, closures, zero_grad, state_dict layout
and round trip, error messages, the one-kernel-call-per-group property, LBFGS on Rosenbrock and
the L1 penalty helper."""
import math
import warnings

import numpy as np
import pytest

import ranvier
from ranvier import _C, nn, optim
from helpers import from_np, run_at_capability, to_np
import optim_reference as ref
from test_optim_updates import loss_of, make_params, np_grads, problem, run_ref

ALL = [
    (optim.SGD, dict(lr=0.05, momentum=0.9), ["momentum_buffer"]),
    (optim.Adam, dict(lr=0.05, amsgrad=True), ["step", "exp_avg", "exp_avg_sq",
                                               "max_exp_avg_sq"]),
    (optim.AdamW, dict(lr=0.05), ["step", "exp_avg", "exp_avg_sq"]),
    (optim.RMSprop, dict(lr=0.01, momentum=0.5, centered=True),
     ["step", "square_avg", "momentum_buffer", "grad_avg"]),
    (optim.Adagrad, dict(lr=0.1), ["step", "sum"]),
    (optim.Adadelta, dict(), ["step", "square_avg", "acc_delta"]),
    (optim.Adamax, dict(lr=0.05), ["step", "exp_avg", "exp_inf"]),
    (optim.NAdam, dict(lr=0.05), ["step", "mu_product", "exp_avg", "exp_avg_sq"]),
    (optim.RAdam, dict(lr=0.05), ["step", "exp_avg", "exp_avg_sq"]),
]
IDS = [c[0].__name__ for c in ALL]


def train(opt, params, cs, bs, steps):
    for _ in range(steps):
        opt.zero_grad()
        loss_of(params, cs, bs, 1.0).backward()
        opt.step()


@pytest.mark.parametrize("cls,kwargs,keys", ALL, ids=IDS)
def test_state_dict_layout_and_round_trip(cls, kwargs, keys):
    values, cs, bs = problem(np.float64, seed=1)
    params = make_params(values)
    opt = cls(params, **kwargs)
    train(opt, params, cs, bs, 20)
    sd = opt.state_dict()
    assert set(sd) == {"state", "param_groups"}
    assert sd["param_groups"][0]["params"] == list(range(len(params)))
    assert sd["param_groups"][0]["lr"] == opt.param_groups[0]["lr"]
    assert sorted(sd["state"]) == list(range(len(params)))
    for i, st in sd["state"].items():
        assert list(st) == keys
        if "step" in st:
            assert isinstance(st["step"], ranvier.Tensor) and st["step"].dim() == 0
            assert float(st["step"]) == 20.0
            assert st["step"].dtype == ranvier.float32
        for k, v in st.items():
            if k not in ("step", "mu_product"):
                assert tuple(v.shape) == tuple(params[i].shape)
    # continue from a copy == uninterrupted run
    params2 = make_params(values)
    with ranvier.no_grad():
        for p2, p in zip(params2, params):
            p2.copy_(p)
    opt2 = cls(params2, **kwargs)
    opt2.load_state_dict(sd)
    assert opt2.state_dict()["param_groups"] == sd["param_groups"]
    train(opt, params, cs, bs, 30)
    train(opt2, params2, cs, bs, 30)
    for a, b in zip(params, params2):
        np.testing.assert_array_equal(to_np(a), to_np(b))


def test_state_dict_step_as_number_is_accepted():
    values, cs, bs = problem(np.float64, seed=2)
    params = make_params(values)
    opt = optim.Adam(params, lr=0.05)
    train(opt, params, cs, bs, 5)
    sd = opt.state_dict()
    for st in sd["state"].values():
        st["step"] = 5  # an older checkpoint format: a plain number
    params2 = [from_np(to_np(p), requires_grad=True) for p in params]
    opt2 = optim.Adam(params2, lr=0.05)
    opt2.load_state_dict(sd)
    train(opt, params, cs, bs, 3)
    train(opt2, params2, cs, bs, 3)
    for a, b in zip(params, params2):
        np.testing.assert_allclose(to_np(a), to_np(b), rtol=1e-12)


def test_load_state_dict_errors():
    a = from_np(np.ones(3), requires_grad=True)
    b = from_np(np.ones(2), requires_grad=True)
    opt = optim.SGD([a, b], lr=0.1)
    two_groups = optim.SGD([{"params": [a]}, {"params": [b]}], lr=0.1)
    with pytest.raises(ValueError, match="different number of parameter groups"):
        opt.load_state_dict(two_groups.state_dict())
    other = optim.SGD([a], lr=0.1)
    with pytest.raises(ValueError, match="doesn't match the size"):
        opt.load_state_dict(other.state_dict())
    with pytest.raises(ValueError, match="'state' and 'param_groups'"):
        opt.load_state_dict({"param_groups": []})


def test_load_state_dict_casts_state_to_param_dtype_and_copies():
    p = from_np(np.ones(3), requires_grad=True)
    opt = optim.Adam([p], lr=0.1)
    p.grad = from_np(np.array([1.0, -2.0, 3.0]))
    opt.step()
    sd = opt.state_dict()
    q = from_np(np.ones(3, dtype=np.float32), requires_grad=True)
    opt2 = optim.Adam([q], lr=0.1)
    opt2.load_state_dict(sd)
    st = opt2.state[q]
    assert st["exp_avg"].dtype == ranvier.float32
    assert st["step"].dtype == ranvier.float32
    np.testing.assert_allclose(to_np(st["exp_avg"]), [0.1, -0.2, 0.3], rtol=1e-6)
    # loading copies: stepping the loaded optimizer leaves the dict (and the source) alone
    r = from_np(np.ones(3), requires_grad=True)
    opt3 = optim.Adam([r], lr=0.1)
    opt3.load_state_dict(sd)
    r.grad = from_np(np.ones(3))
    opt3.step()
    np.testing.assert_allclose(to_np(opt3.state[r]["exp_avg"]), [0.19, -0.08, 0.37])
    np.testing.assert_allclose(to_np(sd["state"][0]["exp_avg"]), [0.1, -0.2, 0.3])
    np.testing.assert_allclose(to_np(opt.state[p]["exp_avg"]), [0.1, -0.2, 0.3])


def test_param_groups_with_different_lr():
    values, cs, bs = problem(np.float64, seed=4)
    params = make_params(values)
    opt = optim.Adam([{"params": params[:3], "lr": 0.1}, {"params": params[3:]}], lr=0.01,
                     betas=(0.8, 0.9))
    assert opt.param_groups[0]["lr"] == 0.1 and opt.param_groups[1]["lr"] == 0.01
    assert opt.param_groups[1]["betas"] == (0.8, 0.9)
    train(opt, params, cs, bs, 10)
    w1 = run_ref(ref.RefAdam, dict(lr=0.1, betas=(0.8, 0.9)), values[:3], cs[:3], bs[:3], 10)
    w2 = run_ref(ref.RefAdam, dict(lr=0.01, betas=(0.8, 0.9)), values[3:], cs[3:], bs[3:], 10)
    for p, w in zip(params, w1 + w2):
        np.testing.assert_allclose(to_np(p), w, rtol=1e-10, atol=1e-12)


def test_add_param_group_and_duplicates():
    a = from_np(np.ones(3), requires_grad=True)
    b = from_np(np.ones(2), requires_grad=True)
    opt = optim.SGD([a], lr=0.1, momentum=0.9)
    opt.add_param_group({"params": b, "lr": 0.5})
    assert opt.param_groups[1]["params"][0] is b
    assert opt.param_groups[1]["momentum"] == 0.9 and opt.param_groups[1]["lr"] == 0.5
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [a]})
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.Adam([{"params": [a, b]}, {"params": [b]}])
    with pytest.warns(UserWarning, match="duplicate parameters"):
        optim.SGD([a, a], lr=0.1)


def test_constructor_errors():
    p = from_np(np.ones(3), requires_grad=True)
    with pytest.raises(ValueError, match="Invalid learning rate: -0.1"):
        optim.SGD([p], lr=-0.1)
    with pytest.raises(ValueError, match="Invalid learning rate"):
        optim.Adam([p], lr=-1.0)
    with pytest.raises(ValueError, match="Invalid beta parameter at index 1"):
        optim.Adam([p], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="Invalid epsilon value"):
        optim.RMSprop([p], eps=-1.0)
    with pytest.raises(ValueError, match="Invalid momentum value"):
        optim.SGD([p], lr=0.1, momentum=-0.5)
    with pytest.raises(ValueError, match="Invalid weight_decay value"):
        optim.AdamW([p], weight_decay=-0.5)
    with pytest.raises(ValueError, match="Nesterov momentum requires"):
        optim.SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="Invalid rho value"):
        optim.Adadelta([p], rho=1.5)
    with pytest.raises(ValueError, match="Invalid lr_decay value"):
        optim.Adagrad([p], lr_decay=-1)
    with pytest.raises(ValueError, match="Invalid momentum_decay value"):
        optim.NAdam([p], momentum_decay=-1)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="iterable of Tensors or dicts"):
        optim.SGD(p, lr=0.1)
    with pytest.raises(TypeError, match="ordered collections"):
        optim.SGD([{"params": {p}}], lr=0.1)
    with pytest.raises(TypeError, match="can only optimize Tensors"):
        optim.SGD([p, 3.0], lr=0.1)
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([p * 2], lr=0.1)
    with pytest.raises(ValueError, match="line_search_fn"):
        optim.LBFGS([p], line_search_fn="backtracking")


def test_kernel_argument_errors():
    f = ranvier.ones(3)
    with pytest.raises(TypeError, match="sgd_step_: parameters must be float32 or float64"):
        _C._optim_sgd_([ranvier.ones(3, dtype=ranvier.int64)],
                       [ranvier.ones(3, dtype=ranvier.int64)], None, 0.1, 0.0, 0.0, 0.0,
                       False, False)
    with pytest.raises(RuntimeError, match=r"adam_step_: grad\[0\] must have the shape"):
        _C._optim_adam_([f], [ranvier.ones(4)], [ranvier.zeros(3)], [ranvier.zeros(3)], [],
                        [ranvier.tensor(0.0)], 0.1, 0.9, 0.999, 1e-8, 0.0, False, False, False)
    with pytest.raises(TypeError, match=r"adam_step_: exp_avg\[0\] must have the dtype"):
        _C._optim_adam_([f], [ranvier.ones(3)], [ranvier.zeros(3, dtype=ranvier.float64)],
                        [ranvier.zeros(3)], [], [ranvier.tensor(0.0)], 0.1, 0.9, 0.999, 1e-8,
                        0.0, False, False, False)
    with pytest.raises(RuntimeError, match="adagrad_step_: got 1 parameters but 2 gradients"):
        _C._optim_adagrad_([f], [f, f], [f], [ranvier.tensor(0.0)], 0.1, 0.0, 0.0, 1e-10,
                           False)
    with pytest.raises(RuntimeError, match="expected 1 step tensors"):
        _C._optim_adagrad_([f], [f], [ranvier.zeros(3)], [], 0.1, 0.0, 0.0, 1e-10, False)
    with pytest.raises(TypeError, match="must be a list of tensors"):
        _C._optim_adadelta_([f], [1.0], [f], [f], [ranvier.tensor(0.0)], 1.0, 0.9, 1e-6, 0.0,
                            False)
    with pytest.raises(ValueError, match="invalid learning rate"):
        _C._optim_radam_([f], [f], [f], [f], [ranvier.tensor(0.0)], -1.0, 0.9, 0.999, 1e-8,
                         0.0, False, False)


def test_unsupported_param_dtype_raises_type_error():
    p = ranvier.ones(3, dtype=ranvier.float16).requires_grad_(True)
    opt = optim.Adam([p], lr=0.1)
    p.grad = ranvier.ones(3, dtype=ranvier.float16)
    with pytest.raises(TypeError, match="adam_step_: parameters must be float32 or float64.*"
                                         "float16"):
        opt.step()


def test_zero_grad():
    p = from_np(np.ones(3), requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    (p * 2).sum().backward()
    opt.zero_grad(set_to_none=False)
    assert p.grad is not None
    np.testing.assert_array_equal(to_np(p.grad), np.zeros(3))
    (p * 2).sum().backward()
    np.testing.assert_array_equal(to_np(p.grad), np.full(3, 2.0))
    opt.zero_grad()
    assert p.grad is None


def test_params_without_grad_are_skipped():
    a = from_np(np.ones(3), requires_grad=True)
    b = from_np(np.ones(2), requires_grad=True)
    opt = optim.Adam([a, b], lr=0.1)
    (a * 3).sum().backward()
    opt.step()
    np.testing.assert_array_equal(to_np(b), np.ones(2))
    assert len(opt.state[b]) == 0 and float(opt.state[a]["step"]) == 1.0
    np.testing.assert_allclose(to_np(a), np.full(3, 1 - 0.1 * 3 / (3 + 1e-8)), rtol=1e-12)


def test_closure_is_evaluated_with_grad_enabled():
    p = from_np(np.array([1.0, 2.0]), requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    calls = []

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        calls.append(float(loss))
        return loss

    with ranvier.no_grad():
        loss = opt.step(closure)
    assert calls == [5.0] and float(loss) == 5.0
    np.testing.assert_allclose(to_np(p), [0.8, 1.6])


def test_step_is_not_recorded_by_autograd_and_bumps_version():
    p = from_np(np.ones(3), requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    (p * p).sum().backward()
    v0 = p._version if hasattr(p, "_version") else None
    opt.step()
    assert p.is_leaf and p.grad_fn is None and p.requires_grad
    if v0 is not None:
        assert p._version > v0
    y = p * p  # saved p: a later in-place step must be detected by autograd
    opt.step()
    if v0 is not None:
        with pytest.raises(RuntimeError):
            y.sum().backward()


def test_repr():
    p = from_np(np.ones(3), requires_grad=True)
    text = repr(optim.SGD([p], lr=0.1, momentum=0.9))
    assert text.startswith("SGD (\nParameter Group 0\n")
    assert "    lr: 0.1\n" in text and "    momentum: 0.9\n" in text and text.endswith(")")
    assert "params" not in text


def test_one_kernel_call_per_group_for_a_large_model(monkeypatch):
    model = nn.Sequential(nn.Linear(1000, 500), nn.ReLU(), nn.Linear(500, 500), nn.ReLU(),
                          nn.Linear(500, 10))
    n = sum(p.numel() for p in model.parameters())
    assert n > 750_000
    opt = optim.Adam(model.parameters(), lr=1e-3)
    x = ranvier.randn(4, 1000)
    model(x).sum().backward()
    calls = []
    real = _C._optim_adam_

    def counting(params, *args):
        calls.append(len(params))
        return real(params, *args)

    monkeypatch.setattr(_C, "_optim_adam_", counting)
    before = [to_np(p).copy() for p in model.parameters()]
    opt.step()
    opt.step()
    assert calls == [6, 6]
    after = [to_np(p) for p in model.parameters()]
    assert all(not np.array_equal(a, b) for a, b in zip(before, after))


def test_result_independent_of_thread_count():
    rng = np.random.default_rng(0)
    v = rng.standard_normal(200_000).astype(np.float32)
    g = rng.standard_normal(200_000).astype(np.float32)
    results = []
    old = ranvier.get_num_threads()
    try:
        for nt in (1, max(2, old)):
            ranvier.set_num_threads(nt)
            p = from_np(v, requires_grad=True)
            opt = optim.RMSprop([p], lr=0.01, centered=True, momentum=0.9)
            for _ in range(3):
                p.grad = from_np(g)
                opt.step()
            results.append(to_np(p))
    finally:
        ranvier.set_num_threads(old)
    np.testing.assert_array_equal(results[0], results[1])


# Each optimizer with its options that change the loop, a few steps on float32 values with odd
# lengths (vector tails); prints a digest of the parameters' and states' bytes.
_LEVEL_RUN = """
import hashlib, numpy as np, ranvier
from ranvier import optim
cases = [(optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
         (optim.SGD, dict(lr=0.1, momentum=0.9, dampening=0.3)),
         (optim.Adam, dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
         (optim.AdamW, dict(lr=0.01, weight_decay=0.1, betas=(0.6, 0.99))),
         (optim.RMSprop, dict(lr=0.01, centered=True, momentum=0.9, weight_decay=0.1)),
         (optim.Adagrad, dict(lr=0.1)), (optim.Adadelta, dict(lr=1.0)),
         (optim.Adamax, dict(lr=0.01)), (optim.NAdam, dict(lr=0.01)),
         (optim.RAdam, dict(lr=0.01))]
h = hashlib.sha256()
rng = np.random.default_rng(5)
for cls, kw in cases:
    ps = [ranvier.tensor(rng.standard_normal(n).astype(np.float32), requires_grad=True)
          for n in (1, 13, 1027)]
    opt = cls(ps, **kw)
    for _ in range(7):
        for p in ps:
            p.grad = ranvier.tensor(rng.standard_normal(p.shape[0]).astype(np.float32))
        opt.step()
    for p in ps:
        h.update(p.detach().numpy().tobytes())
        for v in opt.state[p].values():
            if isinstance(v, ranvier.Tensor):
                h.update(v.numpy().tobytes())
print(h.hexdigest())
print(ranvier.backends.cpu.get_cpu_capability())
"""


@pytest.mark.skipif(_C._cpu_capability_supported() == "DEFAULT", reason="the CPU has no AVX2")
def test_same_bits_at_every_simd_level():
    # the steps are compiled once per SIMD level without FMA contraction (kernels/cpu/simd/)
    runs = {level: run_at_capability(level, _LEVEL_RUN) for level in ("default", "avx2")}
    assert runs["default"][-1] == "DEFAULT" and runs["avx2"][-1] == "AVX2"
    assert runs["default"][0] == runs["avx2"][0]


def rosenbrock(x):
    return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2


@pytest.mark.parametrize("line_search", [None, "strong_wolfe"])
def test_lbfgs_minimises_rosenbrock(line_search):
    x = from_np(np.array([-1.5, 2.0]), requires_grad=True)
    opt = optim.LBFGS([x], lr=1 if line_search else 0.1, max_iter=200 if line_search else 500,
                      history_size=10, line_search_fn=line_search, tolerance_change=1e-14,
                      tolerance_grad=1e-10)
    evals = []

    def closure():
        opt.zero_grad()
        loss = rosenbrock(x)
        loss.backward()
        evals.append(float(loss))
        return loss

    first = None
    for _ in range(5 if line_search else 20):
        loss = opt.step(closure)
        first = float(loss) if first is None else first
    assert first == pytest.approx(rosenbrock(np.array([-1.5, 2.0])))
    tol = 1e-6 if line_search else 1e-3
    np.testing.assert_allclose(to_np(x), [1.0, 1.0], atol=tol)
    st = opt.state[x]
    assert st["func_evals"] == len(evals) and st["n_iter"] > 0
    assert len(st["old_dirs"]) <= 10


def test_lbfgs_errors():
    a = from_np(np.ones(2), requires_grad=True)
    b = from_np(np.ones(2), requires_grad=True)
    with pytest.raises(ValueError, match="parameter groups"):
        optim.LBFGS([{"params": [a]}, {"params": [b]}])
    with pytest.raises(RuntimeError, match="requires a closure"):
        optim.LBFGS([a]).step()


def test_l1_penalty():
    a = from_np(np.array([1.0, -2.0, 0.5]), requires_grad=True)
    b = from_np(np.array([[-3.0]]), requires_grad=True)
    pen = optim.l1_penalty([a, b])
    assert float(pen) == pytest.approx(6.5)
    pen.backward()
    np.testing.assert_array_equal(to_np(a.grad), [1.0, -1.0, 1.0])
    np.testing.assert_array_equal(to_np(b.grad), [[-1.0]])
    assert float(optim.l1_penalty([])) == 0.0
