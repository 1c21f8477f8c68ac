"""Note [Fused patterns]: nn.Sequential runs Conv2d -> ReLU -> MaxPool2d(2) of a one-channel
3x3 conv as one op (_C._conv2d_relu_max_pool2d). Its output and gradients must be the same bits
as the three ops' (checked against the unfused run, including NaN, infinities and ties), and
the values those of float64 NumPy formulas; any run that does not qualify (hooks, other
settings, dtypes, odd sizes, autocast, the switch off) must run module by module."""
import numpy as np
import pytest

import ranvier as rv
from ranvier import _C
from helpers import from_np

F = rv.nn.functional


def _fused_available():
    x = rv.zeros(1, 1, 4, 4)
    return _C._conv2d_relu_max_pool2d(x, rv.zeros(2, 1, 3, 3), None, (1, 1)) is not None


needs_fused = pytest.mark.skipif(not _fused_available(),
                                 reason="this CPU lacks the AVX-512 / AVX2 fused kernels")


def _bits(t):
    return t.detach().numpy().view(np.uint32)


def _composed(x, w, b, pad):
    return F.max_pool2d(F.relu(F.conv2d(x, w, b, padding=pad)), 2)


def _np_reference(x, w, b, pad):
    """float64: conv (cross-correlation) with zero padding, relu, 2x2 max pool; and the input,
    weight and bias gradients for a pooled gradient g (to the first maximum, if positive)."""
    n, ci, h, wd = x.shape
    co = w.shape[0]
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = h + 2 * pad - 2, wd + 2 * pad - 2
    conv = np.zeros((n, co, oh, ow))
    for a in range(3):
        for c in range(3):
            conv += np.einsum("oi,nihw->nohw", w[:, :, a, c], xp[:, :, a:a + oh, c:c + ow])
    if b is not None:
        conv += b[None, :, None, None]
    r = np.maximum(conv, 0)
    win = r.reshape(n, co, oh // 2, 2, ow // 2, 2).transpose(0, 1, 2, 4, 3, 5)
    win = win.reshape(n, co, oh // 2, ow // 2, 4)
    pooled = win.max(-1)
    tap = win.argmax(-1)

    def grads(g):
        dconv = np.zeros_like(conv)
        pi, pj = np.meshgrid(np.arange(oh // 2), np.arange(ow // 2), indexing="ij")
        for nn_ in range(n):
            for o in range(co):
                t = tap[nn_, o]
                live = pooled[nn_, o] > 0
                dconv[nn_, o, 2 * pi + t // 2, 2 * pj + t % 2] = np.where(live, g[nn_, o], 0)
        dw = np.zeros(w.shape)
        dxp = np.zeros_like(xp)
        for a in range(3):
            for c in range(3):
                dw[:, :, a, c] = np.einsum("nohw,nihw->oi", dconv, xp[:, :, a:a + oh, c:c + ow])
                dxp[:, :, a:a + oh, c:c + ow] += np.einsum("nohw,oi->nihw", dconv, w[:, :, a, c])
        return dxp[:, :, pad:pad + h, pad:pad + wd], dw, dconv.sum((0, 2, 3))

    return pooled, grads


def _operands(rng, n, ci, h, w, co, bias=True):
    x = rng.standard_normal((n, ci, h, w)).astype(np.float32)
    wt = (rng.standard_normal((co, ci, 3, 3)) / np.sqrt(ci)).astype(np.float32)
    b = rng.standard_normal(co).astype(np.float32) if bias else None
    return x, wt, b


CASES = [  # n, input channels, h, w, output channels, padding
    # one input channel: the direct kernels
    (64, 1, 28, 28, 32, 1), (3, 1, 10, 34, 5, 1), (9, 1, 6, 6, 4, 2), (17, 1, 16, 14, 3, 1),
    (2, 1, 18, 32, 7, 1), (1, 1, 2, 2, 2, 1), (8, 1, 20, 46, 2, 0),
    # 16 or more channels each side: Winograd (1 chunk of 8 samples, or several)
    (64, 32, 14, 14, 64, 1), (5, 16, 10, 34, 20, 1), (17, 17, 6, 8, 16, 0),
    (9, 16, 12, 36, 16, 2), (2, 16, 2, 2, 16, 1),
]


@needs_fused
@pytest.mark.parametrize("n,ci,h,w,co,pad", CASES)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("input_grad", [False, True])
def test_op_matches_three_ops_bit_for_bit_and_numpy(n, ci, h, w, co, pad, bias, input_grad):
    rng = np.random.default_rng(n * 1000 + h * 10 + w + ci)
    xa, wa, ba = _operands(rng, n, ci, h, w, co, bias)
    x1 = from_np(xa, requires_grad=input_grad)
    x2 = from_np(xa, requires_grad=input_grad)
    w1, w2 = from_np(wa, requires_grad=True), from_np(wa, requires_grad=True)
    b1 = from_np(ba, requires_grad=True) if bias else None
    b2 = from_np(ba, requires_grad=True) if bias else None
    out = _C._conv2d_relu_max_pool2d(x1, w1, b1, (pad, pad))
    ref = _composed(x2, w2, b2, pad)
    assert out.grad_fn.name() == "ConvReluMaxPoolBackward0"
    np.testing.assert_array_equal(_bits(out), _bits(ref))
    ga = rng.standard_normal(tuple(ref.shape)).astype(np.float32)
    out.backward(from_np(ga))
    ref.backward(from_np(ga))
    np.testing.assert_array_equal(_bits(w1.grad), _bits(w2.grad))
    if bias:
        np.testing.assert_array_equal(_bits(b1.grad), _bits(b2.grad))
    if input_grad:
        np.testing.assert_array_equal(_bits(x1.grad), _bits(x2.grad))
    pooled, grads = _np_reference(xa, wa, ba, pad)
    np.testing.assert_allclose(out.detach().numpy(), pooled, rtol=1e-4, atol=1e-4)
    dx, dw, db = grads(ga.astype(np.float64))
    np.testing.assert_allclose(w1.grad.numpy(), dw, rtol=1e-3, atol=1e-3)
    if bias:
        np.testing.assert_allclose(b1.grad.numpy(), db, rtol=1e-3, atol=1e-3)
    if input_grad:
        np.testing.assert_allclose(x1.grad.numpy(), dx, rtol=1e-3, atol=1e-3)


@needs_fused
@pytest.mark.parametrize("input_grad", [False, True])
@pytest.mark.parametrize("ci,co", [(1, 6), (16, 16)])
def test_special_values_and_ties_match_three_ops(input_grad, ci, co):
    rng = np.random.default_rng(5)
    xa = rng.standard_normal((4, ci, 12, 12)).astype(np.float32)
    xa[0, 0, 2, 3] = np.nan
    xa[1, 0, 5, 5] = np.inf
    xa[2, 0, 7, 1] = -np.inf
    xa[3, 0, :4, :4] = 1.0  # equal conv outputs inside windows: the first maximum wins
    xa[3, 0, 4, 4] = xa[3, 0, 4, 5] = 3.0  # ties between taps 0 and 1 of one window ...
    xa[3, 0, 8, 8] = xa[3, 0, 9, 8] = 3.0  # ... and 0 and 2, with different neighbours
    xa[3, 0, 6:8, 6:8] = -0.0
    wa = rng.standard_normal((co, ci, 3, 3)).astype(np.float32)
    wa[0] = 0.0
    wa[0, 0, 1, 1] = 1.0  # identity conv: ties and NaN / inf reach the pool unchanged
    ba = rng.standard_normal(co).astype(np.float32)
    ba[0] = 0.0
    ga = rng.standard_normal((4, co, 6, 6)).astype(np.float32)
    ga[0, 1, 2, 2] = np.inf
    ga[2, 0, 3, 0] = np.nan
    got, want = [], []
    for fused, sink in ((True, got), (False, want)):
        w = from_np(wa, requires_grad=True)
        b = from_np(ba, requires_grad=True)
        x = from_np(xa, requires_grad=input_grad)
        out = (_C._conv2d_relu_max_pool2d(x, w, b, (1, 1)) if fused
               else _composed(x, w, b, 1))
        out.backward(from_np(ga))
        sink += [_bits(out), _bits(w.grad), _bits(b.grad)]
        if input_grad:
            sink.append(_bits(x.grad))
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)


@needs_fused
@pytest.mark.parametrize("ci,co", [(1, 4), (16, 16)])
def test_input_gradient_and_double_backward_match_three_ops(ci, co):
    rng = np.random.default_rng(7)
    xa, wa, ba = _operands(rng, 5, ci, 10, 12, co)
    res = []
    for fused in (True, False):
        x = from_np(xa, requires_grad=True)
        w = from_np(wa, requires_grad=True)
        b = from_np(ba, requires_grad=True)
        out = _C._conv2d_relu_max_pool2d(x, w, b, (1, 1)) if fused else _composed(x, w, b, 1)
        gx, gw = rv.autograd.grad((out * out).sum(), [x, w], create_graph=True)
        (gx * gx).sum().add((gw * gw).sum()).backward()
        res.append([gx.detach().numpy(), gw.detach().numpy(), x.grad.numpy(), w.grad.numpy(),
                    b.grad.numpy()])
    for a, b in zip(*res):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


@needs_fused
@pytest.mark.parametrize("ci,co,input_grad", [(1, 9, False), (16, 16, True)])
def test_results_do_not_depend_on_thread_count(ci, co, input_grad):
    rng = np.random.default_rng(11)
    xa, wa, ba = _operands(rng, 21, ci, 28, 28, co)
    prev = rv.get_num_threads()
    res = []
    try:
        for t in (1, 2, 3):
            rv.set_num_threads(t)
            w = from_np(wa, requires_grad=True)
            b = from_np(ba, requires_grad=True)
            x = from_np(xa, requires_grad=input_grad)
            out = _C._conv2d_relu_max_pool2d(x, w, b, (1, 1))
            out.backward(rv.ones(*out.shape))
            res.append([_bits(out), _bits(w.grad), _bits(b.grad)]
                       + ([_bits(x.grad)] if input_grad else []))
    finally:
        rv.set_num_threads(prev)
    for other in res[1:]:
        for a, b in zip(res[0], other):
            np.testing.assert_array_equal(a, b)


def test_op_declines_what_its_kernels_do_not_compute():
    z = rv.zeros
    op = _C._conv2d_relu_max_pool2d
    assert op(z(2, 3, 8, 8), z(4, 3, 3, 3), None, (1, 1)) is None  # 3 -> 4 channels: GEMM
    assert op(z(2, 16, 8, 8), z(16, 1, 3, 3), None, (1, 1)) is None  # channel mismatch
    assert op(z(2, 1, 9, 8), z(4, 1, 3, 3), None, (1, 1)) is None  # odd conv output
    assert op(z(2, 1, 8, 8), z(4, 1, 5, 5), None, (2, 2)) is None  # 5x5
    assert op(z(2, 1, 8, 8, dtype=rv.float64), z(4, 1, 3, 3, dtype=rv.float64), None,
              (1, 1)) is None
    assert op(z(1, 8, 8), z(4, 1, 3, 3), None, (1, 1)) is None  # unbatched
    assert op(z(2, 1, 8, 8), z(4, 2, 3, 3), None, (1, 1)) is None  # channel mismatch
    assert op(z(2, 1, 8, 8), z(4, 1, 3, 3), z(3), (1, 1)) is None  # bias size


# -- nn.Sequential --------------------------------------------------------------------------


def _stage(cin=1, cout=8, **pool):
    rv.manual_seed(3)
    return rv.nn.Sequential(rv.nn.Conv2d(cin, cout, 3, padding=1), rv.nn.ReLU(),
                            rv.nn.MaxPool2d(2, **pool), rv.nn.Flatten(), rv.nn.Linear(cout, 3))


def _grad_fns(t):
    """The names of the nodes t's graph reaches (a tree walk: these graphs are small)."""
    names, todo = set(), [t.grad_fn]
    while todo:
        fn = todo.pop()
        if fn is not None:
            names.add(fn.name())
            todo += [f for f, _ in fn.next_functions]
    return names


def _run(model, x):
    out = model(x)
    out.sum().backward()
    return out, [p.grad.numpy().copy() for p in model.parameters()]


@needs_fused
@pytest.mark.parametrize("cout", [8, 1])
def test_sequential_fuses_and_trains_the_same(cout):
    rng = np.random.default_rng(2)
    xa = rng.standard_normal((6, 1, 2, 2)).astype(np.float32)
    fused, plain = _stage(cout=cout), _stage(cout=cout)
    rv.backends.cpu.fuse_patterns = False
    try:
        o_plain, g_plain = _run(plain, from_np(xa))
    finally:
        rv.backends.cpu.fuse_patterns = True
    o_fused, g_fused = _run(fused, from_np(xa))
    # one output channel: conv2d runs its depthwise kernel, which the fused op does not copy
    assert ("ConvReluMaxPoolBackward0" in _grad_fns(o_fused)) == (cout > 1)
    assert "ConvReluMaxPoolBackward0" not in _grad_fns(o_plain)
    np.testing.assert_array_equal(_bits(o_fused), _bits(o_plain))
    for a, b in zip(g_fused, g_plain):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("change", [
    "pre_hook", "hook", "relu_hook", "pool_hook", "forward_replaced", "relu_subclass",
    "switch_off", "three_channels", "odd_size", "reflect", "ceil_mode", "stride_1",
    "padding_same", "float64", "autocast", "unbatched"])
def test_sequential_runs_modules_when_the_run_does_not_qualify(change):
    cin = 3 if change == "three_channels" else 1
    model = _stage(cin=cin, **({"ceil_mode": True} if change == "ceil_mode" else
                               {"stride": 1} if change == "stride_1" else {}))
    conv, relu, pool = model[0], model[1], model[2]
    calls = []
    if change == "pre_hook":
        conv.register_forward_pre_hook(lambda m, a: calls.append("pre"))
    elif change == "hook":
        conv.register_forward_hook(lambda m, a, o: calls.append("conv"))
    elif change == "relu_hook":
        relu.register_forward_hook(lambda m, a, o: calls.append("relu"))
    elif change == "pool_hook":
        pool.register_forward_hook(lambda m, a, o: calls.append("pool"))
    elif change == "forward_replaced":
        orig = relu.forward
        relu.forward = lambda t: (calls.append("forward"), orig(t))[1]
    elif change == "relu_subclass":
        class MyReLU(rv.nn.ReLU):
            def forward(self, t):
                calls.append("sub")
                return super().forward(t)
        model[1] = MyReLU()
    elif change == "reflect":
        conv.padding_mode = "reflect"
    elif change == "padding_same":
        conv.padding = "same"
    elif change == "float64":
        model = model.double()
    model = model[:3]
    h = 3 if change == "odd_size" else 2
    shape = (cin, h, h) if change == "unbatched" else (4, cin, h, h)
    x = rv.randn(*shape, dtype=rv.float64 if change == "float64" else rv.float32)
    prev = rv.backends.cpu.fuse_patterns
    rv.backends.cpu.fuse_patterns = change != "switch_off"
    try:
        if change == "autocast":
            with rv.amp.autocast("cpu"):
                out = model(x)
        else:
            out = model(x)
    finally:
        rv.backends.cpu.fuse_patterns = prev
    assert "ConvReluMaxPoolBackward0" not in _grad_fns(out)
    if change in ("pre_hook", "hook", "relu_hook", "pool_hook", "forward_replaced",
                  "relu_subclass"):
        assert calls, "the module's hook / forward did not run"


def test_sequential_bad_input_reports_conv2d_error():
    model = _stage()
    with pytest.raises(RuntimeError, match=r"conv2d.*expected input\[4, 3, 8, 8\] to have 1 "
                                           r"channels, but got 3 channels"):
        model(rv.zeros(4, 3, 8, 8))
    with pytest.raises(TypeError, match="conv2d"):
        model(rv.zeros(4, 1, 8, 8, dtype=rv.int64))


def test_sequential_against_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(9)
    xa = rng.standard_normal((16, 1, 28, 28)).astype(np.float32)
    model = rv.nn.Sequential(rv.nn.Conv2d(1, 8, 3, padding=1), rv.nn.ReLU(), rv.nn.MaxPool2d(2),
                             rv.nn.Conv2d(8, 4, 3, padding=1), rv.nn.ReLU(), rv.nn.MaxPool2d(2),
                             rv.nn.Flatten(), rv.nn.Linear(4 * 7 * 7, 5))
    tmodel = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.ReLU(),
                                 torch.nn.MaxPool2d(2), torch.nn.Conv2d(8, 4, 3, padding=1),
                                 torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(),
                                 torch.nn.Linear(4 * 7 * 7, 5))
    with torch.no_grad():
        for p, tp in zip(model.parameters(), tmodel.parameters()):
            tp.copy_(torch.from_numpy(p.detach().numpy()))
    out = model(from_np(xa))
    tout = tmodel(torch.from_numpy(xa))
    (out * out).sum().backward()
    (tout * tout).sum().backward()
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), rtol=1e-4, atol=1e-4)
    for p, tp in zip(model.parameters(), tmodel.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-3, atol=1e-3)
