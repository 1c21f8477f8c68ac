"""ranvier.amp.GradScaler and its two C++ ops: scaling, unscale_ (once per step), skipping steps
on inf/NaN, growth and backoff of the scale, state_dict, pickling, every error path, and a
small MLP trained under CPU autocast(bfloat16) + GradScaler against a float32 run."""
import pickle
import warnings

import numpy as np
import pytest
from hypothesis import given, strategies as st

import ranvier
import ranvier.nn.functional as F
from ranvier import _C
from helpers import assert_close, noncontiguous, shapes, to_np

F32 = ranvier.float32


def _param(values):
    p = ranvier.tensor(np.asarray(values, np.float32), requires_grad=True)
    return p


def _scaler(**kw):
    return ranvier.amp.GradScaler("cpu", **kw)


# --- the C++ ops -----------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [ranvier.float32, ranvier.float64, ranvier.float16,
                                   ranvier.bfloat16])
def test_unscale_op_values_every_dtype(dtype):
    rng = np.random.default_rng(0)
    vals = rng.uniform(-100, 100, size=(70000,)).astype(np.float32)  # above the grain size
    g = ranvier.tensor(vals).to(dtype)
    ref = to_np(g).astype(np.float64) * 0.125
    found = ranvier.zeros(1)
    _C._amp_foreach_non_finite_check_and_unscale_([g], found, ranvier.tensor([0.125]))
    assert found.item() == 0.0
    assert g.dtype == dtype
    assert_close(g.double(), ref, rtol=1e-2 if dtype in (ranvier.float16, ranvier.bfloat16)
                 else 1e-6, atol=0)


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
@pytest.mark.parametrize("dtype", [ranvier.float32, ranvier.float16, ranvier.bfloat16,
                                   ranvier.float64])
def test_unscale_op_finds_non_finite(bad, dtype):
    a = np.ones(50000, np.float32)
    a[40000] = bad
    g1, g2 = ranvier.tensor(a).to(dtype), ranvier.ones(3, dtype=dtype)
    found = ranvier.zeros(1)
    _C._amp_foreach_non_finite_check_and_unscale_([g2, g1], found, ranvier.tensor([0.5]))
    assert found.item() == 1.0
    assert_close(g2.float(), np.full(3, 0.5, np.float32))  # still unscaled


def test_unscale_op_noncontiguous_and_empty():
    base = ranvier.tensor(np.arange(12, dtype=np.float32).reshape(3, 4))
    g = noncontiguous(base)
    found = ranvier.zeros(1)
    empty = ranvier.zeros(0, 5)
    _C._amp_foreach_non_finite_check_and_unscale_([g, empty], found, ranvier.tensor([0.25]))
    assert_close(g, np.arange(12, dtype=np.float32).reshape(3, 4) * 0.25)
    assert found.item() == 0.0
    _C._amp_foreach_non_finite_check_and_unscale_([], found, ranvier.tensor([0.25]))
    assert found.item() == 0.0


def test_unscale_op_errors():
    op = _C._amp_foreach_non_finite_check_and_unscale_
    g, found, inv = ranvier.ones(2), ranvier.zeros(1), ranvier.ones(1)
    with pytest.raises(TypeError, match="grads must be a list of tensors"):
        op(g, found, inv)
    with pytest.raises(TypeError, match="grads must be a list of tensors, got an element"):
        op([g, 3], found, inv)
    with pytest.raises(TypeError, match=r"grads\[0\] must be a floating-point tensor.*int64"):
        op([ranvier.ones(2, dtype=ranvier.int64)], found, inv)
    with pytest.raises(TypeError, match="found_inf must be a float32 tensor, but got float64"):
        op([g], found.double(), inv)
    with pytest.raises(RuntimeError, match=r"inv_scale must be a one-element tensor.*\[2\]"):
        op([g], found, ranvier.ones(2))


@pytest.mark.parametrize("scale,tracker,found,expected", [
    # (scale, tracker) before -> after; growth_factor 2, backoff 0.5, interval 3
    (8.0, 0, 0.0, (8.0, 1)),
    (8.0, 1, 0.0, (8.0, 2)),
    (8.0, 2, 0.0, (16.0, 0)),    # the third clean step grows the scale
    (8.0, 2, 1.0, (4.0, 0)),     # an inf backs off and restarts the count
    (8.0, 0, 3.0, (4.0, 0)),     # any nonzero count of infs
    (3e38, 2, 0.0, (3e38, 0)),   # growth to inf is refused, the count restarts
])
def test_update_scale_op(scale, tracker, found, expected):
    s = ranvier.tensor([scale])
    t = ranvier.tensor([tracker], dtype=ranvier.int32)
    out = _C._amp_update_scale_(s, t, ranvier.tensor([found]), 2.0, 0.5, 3)
    assert np.float32(s.item()) == np.float32(expected[0])
    assert t.item() == expected[1]
    assert out.item() == s.item()


def test_update_scale_op_errors():
    op = _C._amp_update_scale_
    s, t, f = ranvier.ones(1), ranvier.zeros(1, dtype=ranvier.int32), ranvier.zeros(1)
    with pytest.raises(TypeError, match="growth_tracker must be a int32 tensor"):
        op(s, t.long(), f, 2.0, 0.5, 1)
    with pytest.raises(TypeError, match="scale must be a float32 tensor"):
        op(s.double(), t, f, 2.0, 0.5, 1)
    with pytest.raises(RuntimeError, match="found_inf must be a one-element tensor"):
        op(s, t, ranvier.zeros(2), 2.0, 0.5, 1)
    with pytest.raises(ValueError, match="growth_interval must be positive, but got 0"):
        op(s, t, f, 2.0, 0.5, 0)


# --- GradScaler ------------------------------------------------------------------------------

def test_scale_tensor_and_nested():
    s = _scaler(init_scale=4.0)
    assert s.get_scale() == 4.0
    loss = ranvier.tensor(1.5)
    assert_close(s.scale(loss), np.float32(6.0))
    out = s.scale([ranvier.ones(2), (ranvier.ones(1) * 2, [ranvier.ones(1)])])
    assert isinstance(out, list) and isinstance(out[1], tuple) and isinstance(out[1][1], list)
    assert_close(out[0], np.full(2, 4.0, np.float32))
    assert_close(out[1][0], np.full(1, 8.0, np.float32))
    assert_close(out[1][1][0], np.full(1, 4.0, np.float32))
    with pytest.raises(ValueError, match="outputs must be a Tensor or a .*list or tuple"):
        s.scale(3.0)
    with pytest.raises(ValueError, match="got dict"):
        s.scale([{"a": ranvier.ones(1)}])


def test_scale_is_differentiable():
    p = _param([1.0, 2.0])
    s = _scaler(init_scale=8.0)
    s.scale((p * 3).sum()).backward()
    assert_close(p.grad, np.full(2, 24.0, np.float32))


def test_step_unscales_and_steps():
    p = _param([1.0, -2.0])
    opt = ranvier.optim.SGD([p], lr=0.1)
    s = _scaler(init_scale=1024.0)
    s.scale((p * p).sum()).backward()
    s.step(opt)
    # grad 2p unscaled, SGD step p - 0.1 * 2p
    assert_close(p.detach(), np.array([0.8, -1.6], np.float32), rtol=1e-6)
    assert_close(p.grad, np.array([2.0, -4.0], np.float32))
    s.update()
    assert s.get_scale() == 1024.0 and s._get_growth_tracker() == 1


def test_step_skipped_on_inf_and_scale_backs_off():
    p = _param([1.0, 2.0])
    q = _param([3.0])
    opt = ranvier.optim.SGD([p, q], lr=0.1)
    s = _scaler(init_scale=2.0**16)
    (s.scale((p * float("inf")).sum() + q.sum())).backward()
    assert s.step(opt) is None
    assert_close(p.detach(), np.array([1.0, 2.0], np.float32))
    assert_close(q.detach(), np.array([3.0], np.float32))
    s.update()
    assert s.get_scale() == 2.0**15 and s._get_growth_tracker() == 0


def test_growth_after_growth_interval_clean_steps():
    p = _param([1.0])
    opt = ranvier.optim.SGD([p], lr=0.0)
    s = _scaler(init_scale=4.0, growth_factor=3.0, backoff_factor=0.25, growth_interval=3)
    scales = []
    for it in range(7):
        opt.zero_grad()
        bad = float("nan") if it == 4 else 1.0
        s.scale((p * bad).sum()).backward()
        s.step(opt)
        s.update()
        scales.append(s.get_scale())
    assert scales == [4.0, 4.0, 12.0, 12.0, 3.0, 3.0, 3.0]
    assert s._get_growth_tracker() == 2


def test_unscale_then_clip_then_step():
    p = _param([3.0, 4.0])
    opt = ranvier.optim.SGD([p], lr=1.0)
    s = _scaler(init_scale=256.0)
    s.scale((p * p).sum() / 2).backward()   # grad = p = (3, 4), norm 5
    s.unscale_(opt)
    assert_close(p.grad, np.array([3.0, 4.0], np.float32))
    ranvier.nn.utils.clip_grad_norm_([p], 1.0)
    s.step(opt)  # does not unscale a second time
    assert_close(p.detach(), np.array([3.0 - 0.6, 4.0 - 0.8], np.float32), rtol=1e-5)
    with pytest.raises(RuntimeError, match="step\\(\\) has already been called since the last"):
        s.step(opt)
    with pytest.raises(RuntimeError, match="unscale_\\(\\) is being called after step\\(\\)"):
        s.unscale_(opt)
    s.update()


def test_unscale_twice_is_an_error():
    p = _param([1.0])
    opt = ranvier.optim.SGD([p], lr=0.1)
    s = _scaler()
    s.scale(p.sum()).backward()
    s.unscale_(opt)
    with pytest.raises(RuntimeError, match="unscale_\\(\\) has already been called on this "
                                           "optimizer since the last update"):
        s.unscale_(opt)


def test_two_optimizers_share_one_update():
    p, q = _param([1.0]), _param([1.0])
    o1, o2 = ranvier.optim.SGD([p], lr=1.0), ranvier.optim.SGD([q], lr=1.0)
    s = _scaler(init_scale=16.0)
    s.scale(p.sum() + q.sum() * float("inf")).backward()
    s.step(o1)
    s.step(o2)
    assert_close(p.detach(), np.array([0.0], np.float32))  # o1 had finite grads: stepped
    assert_close(q.detach(), np.array([1.0], np.float32))  # o2 skipped
    s.update()
    assert s.get_scale() == 8.0  # an inf in any optimizer backs off


def test_update_with_new_scale():
    p = _param([1.0])
    s = _scaler(init_scale=4.0)
    s.scale(p.sum())
    s.update(10.0)
    assert s.get_scale() == 10.0
    s.update(ranvier.tensor([3.0]))
    assert s.get_scale() == 3.0
    for bad in (ranvier.tensor([1.0, 2.0]), ranvier.tensor([1.0], dtype=ranvier.float64),
                ranvier.tensor([1.0], requires_grad=True), "2"):
        with pytest.raises(ValueError, match="new_scale must be a float or a one-element"):
            s.update(bad)


def test_errors_before_scale_and_without_grads():
    p = _param([1.0])
    opt = ranvier.optim.SGD([p], lr=0.1)
    s = _scaler()
    for call in (lambda: s.unscale_(opt), lambda: s.step(opt), lambda: s.update()):
        with pytest.raises(RuntimeError, match="the scale is not set up yet; call "
                                               "scaler.scale"):
            call()
    s.scale(p.sum())  # no backward: no gradients
    with pytest.raises(RuntimeError, match="no inf checks were recorded for this optimizer"):
        s.step(opt)
    s2 = _scaler()
    s2.scale(p.sum())
    with pytest.raises(RuntimeError, match="no inf checks were recorded before update"):
        s2.update()
    with pytest.raises(RuntimeError, match="a closure is not supported"):
        s2.step(opt, closure=lambda: 0)


def test_float16_grads_cannot_be_unscaled():
    p = ranvier.ones(2, dtype=ranvier.float16, requires_grad=True)
    s = _scaler()
    s.scale(p.float().sum()).backward()

    class Opt:
        param_groups = [{"params": [p]}]

    with pytest.raises(ValueError, match="attempting to unscale float16 gradients"):
        s.unscale_(Opt())


def test_bfloat16_grads_are_unscaled():
    p = ranvier.ones(2, dtype=ranvier.bfloat16, requires_grad=True)
    s = _scaler(init_scale=4.0)
    s.scale((p.float() * 3).sum()).backward()

    class Opt:
        param_groups = [{"params": [p]}]

    s.unscale_(Opt())
    assert p.grad.dtype == ranvier.bfloat16
    assert_close(p.grad.float(), np.full(2, 3.0, np.float32))


def test_disabled_scaler_passes_through():
    p = _param([1.0])
    opt = ranvier.optim.SGD([p], lr=0.5)
    s = ranvier.amp.GradScaler("cpu", enabled=False)
    loss = p.sum()
    assert s.scale(loss) is loss
    loss.backward()
    s.unscale_(opt)
    s.step(opt)
    s.update()
    assert_close(p.detach(), np.array([0.5], np.float32))
    assert s.get_scale() == 1.0 and not s.is_enabled() and s.state_dict() == {}
    s.load_state_dict({})  # ignored when disabled
    assert s._get_growth_tracker() == 0


def test_cuda_scaler_without_cuda_warns_and_disables():
    if ranvier.cuda.is_available():
        pytest.skip("CUDA is available here")
    with pytest.warns(UserWarning, match="CUDA is not available; the scaler is disabled"):
        s = ranvier.amp.GradScaler()
    assert not s.is_enabled()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ranvier.amp.GradScaler("cuda", enabled=False)  # no warning when not asked to enable


def test_constructor_errors():
    with pytest.raises(ValueError, match="growth_factor must be > 1.0, but got 1.0"):
        _scaler(growth_factor=1.0)
    with pytest.raises(ValueError, match="backoff_factor must be < 1.0, but got 1.5"):
        _scaler(backoff_factor=1.5)
    with pytest.raises(ValueError, match="growth_interval must be a positive int"):
        _scaler(growth_interval=0)
    with pytest.raises(RuntimeError, match="expected device 'cpu' or 'cuda', but got 'tpu'"):
        ranvier.amp.GradScaler("tpu")
    assert ranvier.amp.GradScaler(ranvier.device("cpu")).is_enabled()


def test_accessors_and_state_dict_round_trip():
    p = _param([1.0])
    opt = ranvier.optim.SGD([p], lr=0.0)
    s = _scaler(init_scale=32.0, growth_interval=5)
    for _ in range(2):
        opt.zero_grad()
        s.scale(p.sum()).backward()
        s.step(opt)
        s.update()
    s.set_growth_factor(4.0)
    s.set_backoff_factor(0.125)
    s.set_growth_interval(7)
    assert (s.get_growth_factor(), s.get_backoff_factor(), s.get_growth_interval()) == \
        (4.0, 0.125, 7)
    sd = s.state_dict()
    assert sd == {"scale": 32.0, "growth_factor": 4.0, "backoff_factor": 0.125,
                  "growth_interval": 7, "_growth_tracker": 2}
    t = _scaler()
    t.load_state_dict(sd)
    assert t.state_dict() == sd
    t.scale(p.sum())  # lazily created tensors take the loaded values
    assert t.get_scale() == 32.0 and t._get_growth_tracker() == 2
    u = _scaler()
    u.scale(p.sum())
    u.load_state_dict(sd)  # already-created tensors are overwritten
    assert u.get_scale() == 32.0 and u._get_growth_tracker() == 2
    with pytest.raises(RuntimeError, match="the state dict is empty"):
        u.load_state_dict({})
    with pytest.raises(KeyError, match="missing keys"):
        u.load_state_dict({"scale": 1.0})


def test_pickle():
    p = _param([1.0])
    opt = ranvier.optim.SGD([p], lr=0.0)
    s = _scaler(init_scale=64.0)
    s.scale(p.sum()).backward()
    s.step(opt)
    with pytest.raises(RuntimeError, match="can be pickled only at the start of an iteration"):
        pickle.dumps(s)
    s.update()
    t = pickle.loads(pickle.dumps(s))
    assert t.state_dict() == s.state_dict()


# --- training ----------------------------------------------------------------------------------

def _train(use_amp, steps=60):
    ranvier.manual_seed(0)
    rng = np.random.default_rng(0)
    x = ranvier.tensor(rng.standard_normal((128, 8)).astype(np.float32))
    y = ranvier.tensor((to_np(x)[:, 0] + to_np(x)[:, 1] > 0).astype(np.int64))
    ranvier.manual_seed(0)
    net = ranvier.nn.Sequential(ranvier.nn.Linear(8, 32), ranvier.nn.ReLU(),
                                ranvier.nn.Linear(32, 2))
    opt = ranvier.optim.SGD(net.parameters(), lr=0.5)
    scaler = ranvier.amp.GradScaler("cpu", init_scale=2.0**10, growth_interval=10,
                                    enabled=use_amp)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        with ranvier.autocast("cpu", enabled=use_amp):
            out = net(x)
            loss = F.cross_entropy(out, y)
        assert out.dtype == (ranvier.bfloat16 if use_amp else F32) and loss.dtype == F32
        scaler.scale(loss).backward()
        assert all(p.grad.dtype == F32 for p in net.parameters())
        scaler.step(opt)
        scaler.update()
        losses.append(loss.item())
    return losses, scaler


def test_mlp_trains_under_autocast_and_grad_scaler():
    amp_losses, scaler = _train(True)
    f32_losses, _ = _train(False)
    assert amp_losses[-1] < 0.2 * amp_losses[0]
    assert abs(amp_losses[0] - f32_losses[0]) < 0.02
    assert abs(amp_losses[-1] - f32_losses[-1]) < 0.02
    assert scaler.get_scale() > 2.0**10  # clean steps grew the scale


@given(shape=shapes(0, 4, 0, 6), dtype=st.sampled_from([ranvier.float32, ranvier.float64,
                                                        ranvier.float16, ranvier.bfloat16]),
       strided=st.booleans(), bad=st.sampled_from([None, np.inf, np.nan]))
def test_unscale_op_random_shapes(shape, dtype, strided, bad):
    rng = np.random.default_rng(len(shape))
    a = rng.uniform(-4, 4, size=shape).astype(np.float32)
    if bad is not None and a.size:
        a.reshape(-1)[rng.integers(a.size)] = bad
    g = ranvier.tensor(a).to(dtype)
    if strided:
        g = noncontiguous(g)
    expected = to_np(g).astype(np.float64) * 0.5
    found = ranvier.zeros(1)
    _C._amp_foreach_non_finite_check_and_unscale_([g], found, ranvier.tensor([0.5]))
    assert found.item() == (1.0 if bad is not None and a.size else 0.0)
    assert_close(g.double(), expected, rtol=0, atol=0)  # halving is exact in every dtype
