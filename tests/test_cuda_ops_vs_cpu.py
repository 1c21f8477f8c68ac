"""Every user-visible op family on "cuda" against the same op on the CPU, forward and backward.

A table of cases (CASES): each makes its inputs from a seeded NumPy generator (random sizes,
odd ones included), runs the op on both devices, and compares every floating output and every
input gradient (the backward pass gets the same random output gradient on both devices). The
"noncontig" variant feeds each 2-d+ input as a transposed view (same values, non-contiguous).

On a GPU this checks the CUDA kernels. Without one, .ci/cuda_build_check runs it against the
guarded stand-in backend (csrc/cuda/test/fake_cuda_backend.cpp): the CUDA slots hold the CPU
kernels and device memory is unreadable outside them, so it checks the plumbing between Python
and the kernels, and that no code reads or writes a CUDA tensor's memory from the host.
Optimizer steps, modules (RNN/LSTM/GRU, attention) and factories have their own tests below.
"""
import numpy as np
import pytest

import ranvier
import ranvier.nn.functional as F
from ranvier import nn

pytestmark = pytest.mark.skipif(not ranvier.cuda.is_available(), reason="no CUDA device")

RTOL, ATOL = 1e-4, 1e-5


def _sizes(rng, n, low=1, high=6):
    return tuple(int(v) for v in rng.integers(low, high, size=n))


def fl(*shape):
    """A float32 input of this shape (a tuple of ints, or a function of the generator)."""
    return ("f", shape)


def ints(low, high, *shape):
    return ("i", (low, high, shape))


def boolean(*shape):
    return ("b", shape)


def _make(spec, rng):
    kind, arg = spec
    if kind == "f":
        return rng.uniform(-2, 2, size=arg).astype(np.float32)
    if kind == "i":
        low, high, shape = arg
        return rng.integers(low, high, size=shape).astype(np.int64)
    return rng.integers(0, 2, size=arg).astype(np.bool_)


class Case:
    def __init__(self, name, fn, inputs, grad=True, noncontig=True):
        self.name, self.fn, self.inputs = name, fn, inputs
        self.grad, self.noncontig = grad, noncontig

    def arrays(self, seed):
        rng = np.random.default_rng(seed)
        specs = self.inputs(rng) if callable(self.inputs) else self.inputs
        return [_make(s, rng) if isinstance(s, tuple) and s and s[0] in "fib" else s
                for s in specs]


def _outputs(out):
    if isinstance(out, (tuple, list)):
        return [o for o in out if isinstance(o, ranvier.Tensor)]
    return [out]


def _run(case, arrays, device, noncontig, seed):
    leaves, args = [], []
    for a in arrays:
        if not isinstance(a, np.ndarray):
            args.append(a)
            continue
        t = ranvier.from_numpy(a.copy()).to(device)
        if t.is_floating_point() and case.grad:
            t.requires_grad_(True)
            leaves.append(t)
        if noncontig and t.dim() >= 2:
            t = t.transpose(-1, -2).contiguous().transpose(-1, -2)
        args.append(t)
    ranvier.manual_seed(seed)
    outs = _outputs(case.fn(*args))
    grads = []
    if leaves:
        rng = np.random.default_rng(seed + 1000)
        total = None
        for o in outs:
            if o.is_floating_point() and o.requires_grad:
                g = ranvier.from_numpy(rng.uniform(-1, 1, size=tuple(o.shape)).astype(
                    np.float32)).to(o.dtype).to(device)
                term = (o * g).sum()
                total = term if total is None else total + term
        if total is not None:
            total.backward()
            grads = [leaf.grad for leaf in leaves]
    return outs, grads


def _host(t):
    t = t.detach().cpu()
    if t.dtype in (ranvier.bfloat16, ranvier.float16):
        t = t.float()
    return t.numpy()


def _compare(case, seed, noncontig):
    arrays = case.arrays(seed)
    cpu_out, cpu_grads = _run(case, arrays, "cpu", noncontig, seed)
    dev_out, dev_grads = _run(case, arrays, "cuda", noncontig, seed)
    assert len(cpu_out) == len(dev_out)
    for i, (c, d) in enumerate(zip(cpu_out, dev_out)):
        assert d.device.type == "cuda", "%s: output %d is on %s" % (case.name, i, d.device)
        assert c.dtype == d.dtype and tuple(c.shape) == tuple(d.shape), case.name
        if c.is_floating_point():
            np.testing.assert_allclose(_host(d), _host(c), rtol=RTOL, atol=ATOL,
                                       err_msg="%s output %d" % (case.name, i))
        else:
            np.testing.assert_array_equal(_host(d), _host(c),
                                          err_msg="%s output %d" % (case.name, i))
    assert len(cpu_grads) == len(dev_grads)
    for i, (c, d) in enumerate(zip(cpu_grads, dev_grads)):
        assert (c is None) == (d is None), "%s grad %d" % (case.name, i)
        if c is not None:
            assert d.device.type == "cuda"
            np.testing.assert_allclose(_host(d), _host(c), rtol=RTOL, atol=ATOL,
                                       err_msg="%s grad of input %d" % (case.name, i))


def _nd(rng, lo=1, hi=4):
    return _sizes(rng, int(rng.integers(lo, hi + 1)))


def _pair(rng):
    s = _nd(rng, 2, 3)
    return [fl(*s), fl(*s[1:])]  # broadcasting: the second input drops the first dim


CASES = [
    # elementwise
    Case("add", lambda a, b: a + b, _pair), Case("sub", lambda a, b: a - b, _pair),
    Case("mul", lambda a, b: a * b, _pair), Case("div", lambda a, b: a / (b.abs() + 0.5), _pair),
    Case("maximum", ranvier.maximum, _pair), Case("pow", lambda a, b: (a.abs() + 0.5) ** b, _pair),
    Case("atan2", ranvier.atan2, _pair),
    Case("where", lambda a, b: ranvier.where(a > 0, a, b), _pair),
    Case("addcmul", lambda a, b: ranvier.addcmul(a, a, b, value=0.5), _pair),
    Case("lerp", lambda a, b: ranvier.lerp(a, b, 0.3), _pair),
    Case("clamp", lambda x: x.clamp(-0.5, 0.7), lambda r: [fl(*_nd(r))]),
    Case("compare", lambda a, b: (a > b, a == b), _pair, grad=False),
    Case("int_ops", lambda a, b: (a + b, a * b, a // (b.abs() + 1), a % (b.abs() + 1)),
         lambda r: [ints(-9, 9, *_nd(r))] * 2, grad=False),
    Case("bool_ops", lambda a, b: (a & b, a | b, ~a), lambda r: [boolean(4, 5)] * 2, grad=False),
    Case("cast", lambda x: (x.double(), x.half(), x.bfloat16(), x.long(), x.bool()),
         lambda r: [fl(*_nd(r))]),
] + [
    Case(name, fn, lambda r: [fl(*_nd(r))]) for name, fn in [
        ("exp", ranvier.exp), ("log", lambda x: ranvier.log(x.abs() + 0.1)),
        ("sqrt", lambda x: ranvier.sqrt(x.abs() + 0.1)), ("tanh", ranvier.tanh),
        ("sigmoid", ranvier.sigmoid), ("sin", ranvier.sin), ("erf", ranvier.erf),
        ("abs", ranvier.abs), ("relu", ranvier.relu), ("gelu", F.gelu), ("silu", F.silu),
        ("softplus", F.softplus), ("elu", F.elu), ("leaky_relu", F.leaky_relu),
        ("hardswish", F.hardswish), ("mish", F.mish), ("round", lambda x: ranvier.round(x * 3)),
        ("nan_to_num", lambda x: ranvier.nan_to_num(ranvier.log(x))),
    ]
] + [
    # reductions and scans
    Case("sum_mean", lambda x: (x.sum(), x.sum(0), x.mean(-1, keepdim=True)),
         lambda r: [fl(*_nd(r, 2, 4))]),
    Case("prod", lambda x: x.prod(-1), lambda r: [fl(*_nd(r, 1, 3))]),
    Case("var_std", lambda x: (x.var(0), x.std(-1, unbiased=False)), lambda r: [fl(*_nd(r, 2, 3))]),
    Case("max_min", lambda x: (x.max(), x.amax(-1), x.min(0)[0], x.argmax(-1), x.argmin()),
         lambda r: [fl(*_nd(r, 2, 3))]),
    Case("logsumexp", lambda x: ranvier.logsumexp(x, -1), lambda r: [fl(*_nd(r, 1, 3))]),
    Case("norm", lambda x: (x.norm(), ranvier.norm(x, 1, -1)), lambda r: [fl(*_nd(r, 2, 3))]),
    Case("cumsum_cumprod", lambda x: (x.cumsum(-1), ranvier.cumprod(x, 0)),
         lambda r: [fl(*_nd(r, 2, 3))]),
    Case("any_all", lambda x: (x.any(), x.all(-1)), lambda r: [boolean(*_nd(r, 1, 3))], grad=False),
    # linear algebra
    Case("matmul", lambda a, b: a @ b, lambda r: (lambda m, k, n: [fl(m, k), fl(k, n)])(
        *_sizes(r, 3, 1, 40))),
    Case("matmul_vec", lambda a, b: a @ b, lambda r: (lambda m, k: [fl(m, k), fl(k)])(
        *_sizes(r, 2, 1, 20))),
    Case("bmm", ranvier.bmm, lambda r: (lambda b, m, k, n: [fl(b, m, k), fl(b, k, n)])(
        *_sizes(r, 4, 1, 9))),
    Case("matmul_broadcast", lambda a, b: a @ b, lambda r: (lambda b, m, k, n: [
        fl(b, 1, m, k), fl(3, k, n)])(*_sizes(r, 4, 1, 7))),
    Case("linear", F.linear, lambda r: (lambda n, i, o: [fl(n, i), fl(o, i), fl(o)])(
        *_sizes(r, 3, 1, 17))),
    Case("linear_one_row", F.linear, lambda r: (lambda i, o: [fl(1, i), fl(o, i), fl(o)])(
        *_sizes(r, 2, 1, 33))),
    Case("addmm", lambda c, a, b: ranvier.addmm(c, a, b, beta=0.5, alpha=2.0),
         lambda r: (lambda m, k, n: [fl(m, n), fl(m, k), fl(k, n)])(*_sizes(r, 3, 1, 12))),
    Case("outer_dot", lambda a, b: (ranvier.outer(a, b), ranvier.dot(a, b)),
         lambda r: (lambda n: [fl(n), fl(n)])(int(r.integers(1, 30)))),
    # indexing
    Case("getitem", lambda x, i: (x[1:, ::2], x[i], x[x > 0]),
         lambda r: (lambda a, b: [fl(a + 1, b), ints(0, a + 1, 5)])(*_sizes(r, 2))),
    Case("setitem", lambda x, v: x.clone().index_put_((ranvier.tensor([0, 1], device=x.device),),
                                                      v, accumulate=True),
         lambda r: (lambda b: [fl(3, b), fl(b)])(int(r.integers(1, 6)))),
    Case("gather", lambda x, i: ranvier.gather(x, 1, i),
         lambda r: (lambda a, b: [fl(a, b), ints(0, b, a, 7)])(*_sizes(r, 2))),
    Case("scatter", lambda x, i, s: (ranvier.scatter(x, 1, i, s), ranvier.scatter_add(x, 1, i, s)),
         lambda r: (lambda a, b: [fl(a, b), ints(0, b, a, 3), fl(a, 3)])(*_sizes(r, 2))),
    Case("index_select_add", lambda x, i: (ranvier.index_select(x, 0, i),
                                           ranvier.index_add(x, 0, i, x[:1].expand(5, -1))),
         lambda r: (lambda a, b: [fl(a, b), ints(0, a, 5)])(*_sizes(r, 2))),
    Case("masked_fill", lambda x, m: (x.masked_fill(m, 0.5), ranvier.masked_select(x, m)),
         lambda r: (lambda s: [fl(*s), boolean(*s)])(_nd(r, 1, 3))),
    Case("nonzero", lambda m: ranvier.nonzero(m), lambda r: [boolean(*_nd(r, 1, 3))], grad=False),
    Case("take_roll_flip", lambda x: (ranvier.take(x, ranvier.tensor([0, -1], device=x.device)),
                                      ranvier.roll(x, 1, 0), ranvier.flip(x, [-1])),
         lambda r: [fl(*_nd(r, 2, 3))]),
    Case("tril_triu", lambda x: (ranvier.tril(x), ranvier.triu(x, 1)),
         lambda r: [fl(*_sizes(r, 2))]),
    Case("cat_stack", lambda a, b: (ranvier.cat([a, b], 0), ranvier.stack([a, b], -1)),
         lambda r: (lambda s: [fl(*s), fl(*s)])(_nd(r, 1, 3))),
    Case("pad", lambda x: F.pad(x, (1, 2)), lambda r: [fl(*_nd(r, 1, 3))]),
    Case("embedding", lambda i, w: F.embedding(i, w),
         lambda r: (lambda n, d: [ints(0, n, 3, 4), fl(n, d)])(*_sizes(r, 2, 1, 9))),
    Case("one_hot", lambda i: F.one_hot(i, 6), lambda r: [ints(0, 6, 7)], grad=False),
    # sort
    Case("sort", lambda x: ranvier.sort(x, -1, descending=True), lambda r: [fl(*_nd(r, 1, 3))]),
    Case("argsort", lambda x: ranvier.argsort(x, 0), lambda r: [fl(*_nd(r, 2, 3))]),
    Case("topk", lambda x: ranvier.topk(x, 2, -1), lambda r: [fl(*(_nd(r, 0, 2) + (5,)))]),
    Case("unique", lambda i: ranvier.unique(i, return_counts=True), lambda r: [ints(0, 5, 12)],
         grad=False),
    # conv / pool / upsample
    Case("conv2d", lambda x, w, b: F.conv2d(x, w, b, padding=1),
         lambda r: (lambda n, c, h, w, o: [fl(n, c, h + 2, w + 2), fl(o, c, 3, 3), fl(o)])(
             *_sizes(r, 5))),
    Case("conv2d_strided_groups", lambda x, w: F.conv2d(x, w, stride=2, dilation=1, groups=2),
         lambda r: (lambda n, h: [fl(n, 4, h + 4, h + 3), fl(6, 2, 3, 2)])(*_sizes(r, 2))),
    Case("conv1d", lambda x, w: F.conv1d(x, w, padding=2),
         lambda r: (lambda n, c, l: [fl(n, c, l + 2), fl(3, c, 4)])(*_sizes(r, 3))),
    Case("conv_transpose2d", lambda x, w: F.conv_transpose2d(x, w, stride=2, output_padding=1),
         lambda r: (lambda n, c, h: [fl(n, c, h, h + 1), fl(c, 3, 3, 3)])(*_sizes(r, 3))),
    Case("max_pool2d", lambda x: F.max_pool2d(x, 2, ceil_mode=True),
         lambda r: [fl(2, 3, *_sizes(r, 2, 2, 9))]),
    Case("max_pool2d_indices", lambda x: F.max_pool2d(x, 3, 2, 1, return_indices=True),
         lambda r: [fl(2, 2, *_sizes(r, 2, 3, 9))]),
    Case("avg_pool2d", lambda x: F.avg_pool2d(x, 2, padding=1),
         lambda r: [fl(1, 3, *_sizes(r, 2, 2, 9))]),
    Case("adaptive_pool", lambda x: (F.adaptive_avg_pool2d(x, (2, 3)), F.adaptive_max_pool2d(x, 2)),
         lambda r: [fl(2, 2, *_sizes(r, 2, 3, 9))]),
    Case("max_pool1d", lambda x: F.max_pool1d(x, 2), lambda r: [fl(2, 3, int(r.integers(2, 11)))]),
    Case("interpolate", lambda x: (F.interpolate(x, scale_factor=2, mode="nearest"),
                                   F.interpolate(x, size=(5, 4), mode="bilinear",
                                                 align_corners=False)),
         lambda r: [fl(1, 2, *_sizes(r, 2, 1, 6))]),
    # norms
    Case("batch_norm_train", lambda x, w, b: F.batch_norm(
        x, ranvier.zeros(x.shape[1], device=x.device), ranvier.ones(x.shape[1], device=x.device),
        w, b, training=True), lambda r: (lambda n, c, h: [fl(n + 1, c, h), fl(c), fl(c)])(
        *_sizes(r, 3))),
    Case("batch_norm_eval", lambda x, m, v: F.batch_norm(x, m, v.abs() + 0.5),
         lambda r: (lambda n, c: [fl(n, c, 3), fl(c), fl(c)])(*_sizes(r, 2)), noncontig=False),
    Case("layer_norm", lambda x, w, b: F.layer_norm(x, x.shape[-1:], w, b),
         lambda r: (lambda s: [fl(*s), fl(s[-1]), fl(s[-1])])(_nd(r, 2, 3))),
    Case("group_norm", lambda x, w, b: F.group_norm(x, 2, w, b),
         lambda r: (lambda n, h: [fl(n, 4, h), fl(4), fl(4)])(*_sizes(r, 2))),
    Case("rms_norm", lambda x, w: F.rms_norm(x, x.shape[-1:], w),
         lambda r: (lambda s: [fl(*s), fl(s[-1])])(_nd(r, 2, 3))),
    # softmax and losses
    Case("softmax", lambda x: (F.softmax(x, -1), F.log_softmax(x, 0)),
         lambda r: [fl(*_nd(r, 1, 3))]),
    Case("cross_entropy", lambda x, t: (F.cross_entropy(x, t), F.cross_entropy(
        x, t, reduction="none", label_smoothing=0.1)),
         lambda r: (lambda n, c: [fl(n, c), ints(0, c, n)])(*_sizes(r, 2, 1, 9))),
    Case("nll_loss", lambda x, t: F.nll_loss(F.log_softmax(x, -1), t, ignore_index=0),
         lambda r: (lambda n, c: [fl(n, c), ints(0, c, n)])(*_sizes(r, 2, 2, 9))),
    Case("mse_l1_huber", lambda a, b: (F.mse_loss(a, b), F.l1_loss(a, b), F.smooth_l1_loss(a, b),
                                       F.huber_loss(a, b, reduction="sum")),
         lambda r: (lambda s: [fl(*s), fl(*s)])(_nd(r, 1, 3))),
    Case("bce", lambda x, y: (F.binary_cross_entropy_with_logits(x, y),
                              F.binary_cross_entropy(ranvier.sigmoid(x), y.clamp(0, 1))),
         lambda r: (lambda s: [fl(*s), fl(*s)])(_nd(r, 1, 3))),
    Case("kl_div", lambda a, b: F.kl_div(F.log_softmax(a, -1), F.softmax(b, -1),
                                         reduction="batchmean"),
         lambda r: (lambda s: [fl(*s), fl(*s)])(_nd(r, 2, 2))),
    Case("ctc_loss", lambda lp, t: F.ctc_loss(F.log_softmax(lp, -1), t,
                                              ranvier.tensor([6, 5]), ranvier.tensor([3, 2])),
         lambda r: [fl(6, 2, 5), ints(1, 5, 2, 3)], noncontig=False),
    # attention
    Case("sdpa", lambda q, k, v: F.scaled_dot_product_attention(q, k, v),
         lambda r: (lambda b, l, s, d: [fl(b, 2, l, d), fl(b, 2, s, d), fl(b, 2, s, d)])(
             *_sizes(r, 4, 1, 9))),
    Case("sdpa_causal_mask", lambda q, k, v, m: (
        F.scaled_dot_product_attention(q, k, v, is_causal=True),
        F.scaled_dot_product_attention(q, k, v, attn_mask=m)),
         lambda r: (lambda l, d: [fl(1, l, d), fl(1, l, d), fl(1, l, d), boolean(l, l)])(
             *_sizes(r, 2, 1, 9))),
    # random (same seed on both devices)
    Case("dropout", lambda x: F.dropout(x, 0.3), lambda r: [fl(*_nd(r, 1, 3))]),
    Case("random", lambda x: (ranvier.rand_like(x), ranvier.randn_like(x),
                              ranvier.bernoulli(ranvier.sigmoid(x))),
         lambda r: [fl(*_nd(r, 1, 3))], grad=False),
]


@pytest.mark.parametrize("noncontig", [False, True], ids=["contig", "noncontig"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_op_matches_cpu(case, noncontig):
    if noncontig and not case.noncontig:
        pytest.skip("layout fixed by the case")
    for seed in (0, 1):
        _compare(case, seed, noncontig)


@pytest.mark.parametrize("dtype", [ranvier.float64, ranvier.float16, ranvier.bfloat16], ids=str)
@pytest.mark.parametrize("name", ["add", "matmul", "softmax", "sum_mean", "layer_norm"])
def test_other_float_dtypes(name, dtype):
    case = next(c for c in CASES if c.name == name)
    arrays = case.arrays(3)
    tol = 1e-9 if dtype == ranvier.float64 else 2e-2

    def run(device):
        args = [ranvier.from_numpy(a).to(device, dtype) if isinstance(a, np.ndarray) else a
                for a in arrays]
        return _outputs(case.fn(*args))
    for c, d in zip(run("cpu"), run("cuda")):
        assert d.dtype == c.dtype and d.device.type == "cuda"
        np.testing.assert_allclose(_host(d), _host(c), rtol=tol, atol=tol)


def test_zero_size_inputs():
    for device in ("cpu", "cuda"):
        x = ranvier.zeros(0, 3, device=device, requires_grad=True)
        y = (x * 2).sum(0) + F.softmax(x, -1).sum(0)
        y.sum().backward()
        assert x.grad.shape == (0, 3) and x.grad.device.type == device
        assert (x @ ranvier.ones(3, 2, device=device)).shape == (0, 2)


# -- factories --------------------------------------------------------------------------------
FACTORIES = [
    ("zeros", lambda d: ranvier.zeros(2, 3, device=d)),
    ("ones", lambda d: ranvier.ones(4, dtype=ranvier.int64, device=d)),
    ("full", lambda d: ranvier.full((2, 2), 1.5, device=d)),
    ("empty_fill", lambda d: ranvier.empty(3, device=d).fill_(2.0)),
    ("arange", lambda d: ranvier.arange(0, 5, 0.5, device=d)),
    ("linspace", lambda d: ranvier.linspace(-1, 1, 7, device=d)),
    ("eye", lambda d: ranvier.eye(3, 4, device=d)),
    ("tensor", lambda d: ranvier.tensor([[1, 2], [3, 4]], device=d)),
    ("rand", lambda d: (ranvier.manual_seed(5), ranvier.rand(3, 4, device=d))[1]),
    ("randn", lambda d: (ranvier.manual_seed(5), ranvier.randn(5, device=d))[1]),
    ("randint", lambda d: (ranvier.manual_seed(5), ranvier.randint(0, 9, (6,), device=d))[1]),
    ("randperm", lambda d: (ranvier.manual_seed(5), ranvier.randperm(7, device=d))[1]),
    ("zeros_like", lambda d: ranvier.zeros_like(ranvier.ones(2, device=d))),
    ("new_full", lambda d: ranvier.ones(2, device=d).new_full((3,), 7.0)),
]


@pytest.mark.parametrize("name,make", FACTORIES, ids=[n for n, _ in FACTORIES])
def test_factory_device(name, make):
    c, d = make("cpu"), make("cuda")
    assert d.device == ranvier.device("cuda:0") and d.dtype == c.dtype
    np.testing.assert_array_equal(_host(d), _host(c))


# -- optimizers -------------------------------------------------------------------------------
OPTIMIZERS = [
    ("sgd", lambda p: ranvier.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("adam", lambda p: ranvier.optim.Adam(p, lr=0.01, amsgrad=True)),
    ("adamw", lambda p: ranvier.optim.AdamW(p, lr=0.01)),
    ("rmsprop", lambda p: ranvier.optim.RMSprop(p, lr=0.01, momentum=0.5, centered=True)),
    ("adagrad", lambda p: ranvier.optim.Adagrad(p, lr=0.1)),
    ("adadelta", lambda p: ranvier.optim.Adadelta(p)),
    ("adamax", lambda p: ranvier.optim.Adamax(p)),
    ("nadam", lambda p: ranvier.optim.NAdam(p)),
    ("radam", lambda p: ranvier.optim.RAdam(p)),
]


@pytest.mark.parametrize("name,make", OPTIMIZERS, ids=[n for n, _ in OPTIMIZERS])
def test_optimizer_steps(name, make):
    rng = np.random.default_rng(7)
    w0, g = rng.standard_normal((5, 3)).astype(np.float32), rng.standard_normal((4, 5, 3))

    def run(device):
        w = ranvier.from_numpy(w0.copy()).to(device).requires_grad_(True)
        opt = make([w])
        for step in range(4):
            w.grad = ranvier.from_numpy(g[step].astype(np.float32)).to(device)
            opt.step()
        for state in opt.state.values():
            for v in state.values():
                if isinstance(v, ranvier.Tensor) and v.dim() > 0:
                    assert v.device == w.device, (name, v.device)
        return w
    np.testing.assert_allclose(_host(run("cuda")), _host(run("cpu")), rtol=RTOL, atol=ATOL)


# -- modules: RNN / LSTM / GRU, attention, a small network ------------------------------------
MODULES = [
    ("rnn", lambda: nn.RNN(3, 4, num_layers=2, batch_first=True), (2, 5, 3)),
    ("lstm", lambda: nn.LSTM(3, 4, bidirectional=True), (5, 2, 3)),
    ("gru", lambda: nn.GRU(3, 4, batch_first=True), (2, 5, 3)),
    ("lstm_cell", lambda: nn.LSTMCell(3, 4), (2, 3)),
    ("gru_cell", lambda: nn.GRUCell(3, 4), (2, 3)),
    ("mha", lambda: nn.MultiheadAttention(8, 2, batch_first=True), (2, 5, 8)),
    ("transformer_layer", lambda: nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0,
                                                            batch_first=True), (2, 5, 8)),
    ("convnet", lambda: nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                                      nn.MaxPool2d(2), nn.Flatten(), nn.Linear(16, 3)),
     (3, 2, 4, 4)),
    ("embedding_bag", lambda: nn.EmbeddingBag(10, 4), None),
]


def _module_input(name, shape, device):
    rng = np.random.default_rng(11)
    if name == "embedding_bag":
        return (ranvier.tensor([[1, 2, 3], [4, 5, 9]], device=device),)
    x = ranvier.from_numpy(rng.uniform(-1, 1, size=shape).astype(np.float32)).to(device)
    if name in ("mha",):
        return (x, x, x)
    return (x,)


@pytest.mark.parametrize("name,make,shape", MODULES, ids=[m[0] for m in MODULES])
def test_module_matches_cpu(name, make, shape):
    ranvier.manual_seed(3)
    cpu = make()
    ranvier.manual_seed(3)
    dev = make().to("cuda")
    for p in dev.parameters():
        assert p.device.type == "cuda"
    outs = []
    for m, device in ((cpu, "cpu"), (dev, "cuda")):
        out = _outputs(m(*_module_input(name, shape, device)))
        out = [o[0] if isinstance(o, tuple) else o for o in out]
        sum(o.sum() for o in out if o.is_floating_point()).backward()
        outs.append((out, [p.grad for p in m.parameters()]))
    (co, cg), (do, dg) = outs
    for c, d in zip(co, do):
        np.testing.assert_allclose(_host(d), _host(c), rtol=RTOL, atol=ATOL, err_msg=name)
    for c, d in zip(cg, dg):
        assert d is not None and d.device.type == "cuda"
        np.testing.assert_allclose(_host(d), _host(c), rtol=RTOL, atol=ATOL, err_msg=name)
