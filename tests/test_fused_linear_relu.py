"""Note [Fused patterns]: nn.Sequential runs Linear -> ReLU as one call (_C._linear_relu) when no
autograd graph is recorded. Its output must be the bits of the two modules run one by one and
the values of a float64 NumPy relu(x W^T + b); anything the op does not take (a recorded graph,
other ranks, dtypes or shapes, no bias, hooks, a replaced forward, a ReLU subclass, autocast,
the switch off) must run module by module, with the modules' own errors for bad input."""
import numpy as np
import pytest

import ranvier as rv
from ranvier import _C
from helpers import from_np, to_np

F = rv.nn.functional


def _operands(rng, rows, fan_in, fan_out, dtype=np.float32):
    x = rng.standard_normal((rows, fan_in)).astype(dtype)
    w = (rng.standard_normal((fan_out, fan_in)) / np.sqrt(fan_in)).astype(dtype)
    b = rng.standard_normal(fan_out).astype(dtype)
    return x, w, b


@pytest.mark.parametrize("rows,fan_in,fan_out", [
    (1, 784, 512), (1, 256, 10), (3, 37, 33), (4, 17, 1), (5, 64, 24), (128, 100, 70)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_op_matches_two_ops_and_numpy(rows, fan_in, fan_out, dtype, threads):
    x, w, b = _operands(np.random.default_rng(rows * 1000 + fan_in), rows, fan_in, fan_out, dtype)
    old = rv.get_num_threads()
    rv.set_num_threads(threads)
    try:
        with rv.no_grad():
            got = _C._linear_relu(from_np(x), from_np(w), from_np(b))
            composed = F.relu(F.linear(from_np(x), from_np(w), from_np(b)))
    finally:
        rv.set_num_threads(old)
    assert got is not None
    np.testing.assert_array_equal(to_np(got), to_np(composed))
    ref = np.maximum(x.astype(np.float64) @ w.astype(np.float64).T + b, 0)
    tol = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(to_np(got), ref, rtol=tol, atol=tol)
    assert (to_np(got) >= 0).all() and (to_np(got) == 0).any() == (ref == 0).any()


def test_op_declines_what_it_does_not_compute():
    rng = np.random.default_rng(1)
    x, w, b = (from_np(a) for a in _operands(rng, 4, 8, 5))
    wg = from_np(w.numpy(), requires_grad=True)
    assert _C._linear_relu(x, wg, b) is None  # a graph is recorded
    with rv.no_grad():
        assert _C._linear_relu(x, wg, b) is not None
        assert _C._linear_relu(x.reshape(2, 2, 8), w, b) is None  # 3-D input
        assert _C._linear_relu(x[0], w, b) is None  # 1-D input
        assert _C._linear_relu(x, w, None) is None  # no bias
        assert _C._linear_relu(x, w, b[:4]) is None  # bias of the wrong size
        assert _C._linear_relu(x, w[:, :7], b) is None  # shapes that do not multiply
        assert _C._linear_relu(x.double(), w, b) is None  # mixed dtypes
        xi = rv.zeros(4, 8, dtype=rv.int64)
        assert _C._linear_relu(xi, w.to(rv.int64), b.to(rv.int64)) is None  # integers


def _mlp(inplace=False):
    rv.manual_seed(5)
    return rv.nn.Sequential(rv.nn.Linear(20, 16), rv.nn.ReLU(inplace=inplace),
                            rv.nn.Linear(16, 12), rv.nn.ReLU(), rv.nn.Linear(12, 3))


def _spy(monkeypatch):
    calls = []
    real = _C._linear_relu

    def spy(*args):
        out = real(*args)
        calls.append(out is not None)
        return out
    monkeypatch.setattr(_C, "_linear_relu", spy)
    return calls


@pytest.mark.parametrize("inplace", [False, True])
def test_sequential_fuses_under_no_grad_with_the_same_bits(monkeypatch, inplace):
    x = from_np(np.random.default_rng(2).standard_normal((6, 20)).astype(np.float32))
    model = _mlp(inplace)
    rv.backends.cpu.fuse_patterns = False
    try:
        with rv.no_grad():
            plain = model(x)
    finally:
        rv.backends.cpu.fuse_patterns = True
    calls = _spy(monkeypatch)
    with rv.no_grad():
        fused = model(x)
    assert calls == [True, True]
    np.testing.assert_array_equal(to_np(fused), to_np(plain))


def test_sequential_with_a_graph_runs_modules_and_trains(monkeypatch):
    rng = np.random.default_rng(3)
    x = from_np(rng.standard_normal((6, 20)).astype(np.float32))
    calls = _spy(monkeypatch)
    model = _mlp()
    out = model(x)
    assert not any(calls)
    out.sum().backward()
    w0, b0 = model[0].weight.detach().numpy(), model[0].bias.detach().numpy()
    h = x.numpy().astype(np.float64) @ w0.T.astype(np.float64) + b0
    # the first layer's bias gradient: sum over rows of (dL/dh1) masked by h1 > 0
    w2, w4 = (model[i].weight.detach().numpy().astype(np.float64) for i in (2, 4))
    h2 = np.maximum(h, 0) @ w2.T + model[2].bias.detach().numpy()
    g2 = (np.ones((6, 3)) @ w4) * (h2 > 0)
    g1 = (g2 @ w2) * (h > 0)
    np.testing.assert_allclose(model[0].bias.grad.numpy(), g1.sum(0), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("change", ["relu_hook", "linear_pre_hook", "forward_replaced",
                                    "relu_subclass", "no_bias", "switch_off", "autocast",
                                    "three_dims"])
def test_sequential_runs_modules_when_the_pair_does_not_qualify(monkeypatch, change):
    model = rv.nn.Sequential(rv.nn.Linear(8, 6, bias=change != "no_bias"), rv.nn.ReLU())
    ran = []
    if change == "relu_hook":
        model[1].register_forward_hook(lambda m, a, o: ran.append("hook"))
    elif change == "linear_pre_hook":
        model[0].register_forward_pre_hook(lambda m, a: ran.append("pre"))
    elif change == "forward_replaced":
        orig = model[1].forward
        model[1].forward = lambda t: (ran.append("forward"), orig(t))[1]
    elif change == "relu_subclass":
        class MyReLU(rv.nn.ReLU):
            def forward(self, t):
                ran.append("sub")
                return super().forward(t)
        model[1] = MyReLU()
    x = rv.randn(2, 3, 8) if change == "three_dims" else rv.randn(4, 8)
    calls = _spy(monkeypatch)
    prev = rv.backends.cpu.fuse_patterns
    rv.backends.cpu.fuse_patterns = change != "switch_off"
    try:
        with rv.no_grad():
            if change == "autocast":
                with rv.amp.autocast("cpu"):
                    out = model(x)
            else:
                out = model(x)
    finally:
        rv.backends.cpu.fuse_patterns = prev
    assert not any(calls)
    if change in ("relu_hook", "linear_pre_hook", "forward_replaced", "relu_subclass"):
        assert ran, "the module's hook / forward did not run"
    if change == "autocast":
        assert out.dtype == rv.bfloat16  # the modules' ops cast under autocast
    else:
        w = model[0].weight.detach().numpy().astype(np.float64)
        b = 0 if model[0].bias is None else model[0].bias.detach().numpy()
        ref = np.maximum(x.numpy().astype(np.float64) @ w.T + b, 0)
        np.testing.assert_allclose(out.numpy(), ref, rtol=1e-5, atol=1e-6)


def test_sequential_bad_input_reports_linear_error():
    model = rv.nn.Sequential(rv.nn.Linear(8, 6), rv.nn.ReLU())
    with rv.no_grad():
        with pytest.raises(RuntimeError, match=r"linear: mat1 and mat2 shapes cannot be "
                                               r"multiplied \(input \[4, 7\]"):
            model(rv.zeros(4, 7))
