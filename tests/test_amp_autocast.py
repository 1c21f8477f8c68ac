"""ranvier.autocast: output dtypes of every listed op inside and outside regions (expected values
are literal tables taken from PyTorch 2.13's CPU autocast), nesting, enabled=False, the
decorator form, thread-locality, the weight-cast cache, float32 gradients for float32 leaves,
which callers are affected, the cuda op lists, and every error path."""
import threading
import warnings

import numpy as np
import pytest
from hypothesis import given, strategies as st

import ranvier
import ranvier.nn.functional as F
from ranvier import _C
from helpers import assert_close, broadcastable_pair, noncontiguous, to_np

BF, H, F32, F64 = ranvier.bfloat16, ranvier.float16, ranvier.float32, ranvier.float64
SHORT = {"bf16": BF, "f16": H, "f32": F32, "f64": F64}


def _ops(t, F):
    T = t.tensor
    P = lambda x: x.abs() + 0.5  # noqa: E731
    return {
        "matmul": lambda x: t.matmul(x(2, 3), x(3, 4)),
        "matmul_op": lambda x: x(2, 3) @ x(3, 4),
        "rmatmul_op": lambda x: x(2, 3).__rmatmul__(x(4, 2)),
        "Tensor.matmul": lambda x: x(2, 3).matmul(x(3, 4)),
        "mm": lambda x: t.mm(x(2, 3), x(3, 4)),
        "Tensor.mm": lambda x: x(2, 3).mm(x(3, 4)),
        "bmm": lambda x: t.bmm(x(2, 2, 3), x(2, 3, 4)),
        "Tensor.bmm": lambda x: x(2, 2, 3).bmm(x(2, 3, 4)),
        "addmm": lambda x: t.addmm(x(4), x(2, 3), x(3, 4)),
        "Tensor.addmm": lambda x: x(4).addmm(x(2, 3), x(3, 4)),
        "mv": lambda x: t.mv(x(2, 3), x(3)),
        "dot": lambda x: t.dot(x(3), x(3)),
        "outer": lambda x: t.outer(x(3), x(2)),
        "linear": lambda x: F.linear(x(2, 3), x(4, 3), x(4)),
        "conv1d": lambda x: F.conv1d(x(1, 2, 5), x(3, 2, 2)),
        "conv2d": lambda x: F.conv2d(x(1, 2, 5, 5), x(3, 2, 2, 2), x(3)),
        "conv_transpose1d": lambda x: F.conv_transpose1d(x(1, 2, 5), x(2, 3, 2)),
        "conv_transpose2d": lambda x: F.conv_transpose2d(x(1, 2, 5, 5), x(2, 3, 2, 2)),
        "prelu": lambda x: F.prelu(x(2, 3), x(3)),
        "scaled_dot_product_attention": lambda x: F.scaled_dot_product_attention(
            x(1, 2, 3, 4), x(1, 2, 3, 4), x(1, 2, 3, 4)),
        "bilinear": lambda x: F.bilinear(x(2, 3), x(2, 4), x(5, 3, 4)),
        "acos": lambda x: t.acos(x(3) * 0.5), "asin": lambda x: t.asin(x(3) * 0.5),
        "cosh": lambda x: t.cosh(x(3)), "sinh": lambda x: t.sinh(x(3)),
        "tan": lambda x: t.tan(x(3)), "exp": lambda x: t.exp(x(3)),
        "Tensor.exp": lambda x: x(3).exp(), "expm1": lambda x: t.expm1(x(3)),
        "log": lambda x: t.log(P(x(3))), "Tensor.log": lambda x: P(x(3)).log(),
        "log10": lambda x: t.log10(P(x(3))), "log2": lambda x: t.log2(P(x(3))),
        "log1p": lambda x: t.log1p(P(x(3))), "reciprocal": lambda x: t.reciprocal(P(x(3))),
        "rsqrt": lambda x: t.rsqrt(P(x(3))), "pow": lambda x: t.pow(x(3), 2),
        "pow_tt": lambda x: t.pow(P(x(3)), x(3)), "Tensor.pow": lambda x: x(3).pow(2),
        "pow_op": lambda x: x(3) ** 2, "softplus": lambda x: F.softplus(x(3)),
        "layer_norm": lambda x: F.layer_norm(x(2, 3), (3,), x(3), x(3)),
        "group_norm": lambda x: F.group_norm(x(2, 4, 3), 2, x(4), x(4)),
        "batch_norm": lambda x: F.batch_norm(x(2, 3), None, None, x(3), x(3), training=True),
        "instance_norm": lambda x: F.instance_norm(x(2, 3, 4)),
        "rms_norm": lambda x: F.rms_norm(x(2, 3), (3,)),
        "norm": lambda x: t.norm(x(3)), "Tensor.norm": lambda x: x(3).norm(),
        "logsumexp": lambda x: t.logsumexp(x(2, 3), 1),
        "softmax": lambda x: t.softmax(x(2, 3), 1), "F.softmax": lambda x: F.softmax(x(2, 3), 1),
        "Tensor.softmax": lambda x: x(2, 3).softmax(1),
        "log_softmax": lambda x: t.log_softmax(x(2, 3), 1),
        "F.log_softmax": lambda x: F.log_softmax(x(2, 3), 1),
        "softmin": lambda x: F.softmin(x(2, 3), 1),
        "sum": lambda x: t.sum(x(2, 3)), "Tensor.sum": lambda x: x(2, 3).sum(),
        "sum_dim": lambda x: t.sum(x(2, 3), 1), "prod": lambda x: t.prod(x(2, 3)),
        "Tensor.prod": lambda x: x(2, 3).prod(),
        "cumsum": lambda x: t.cumsum(x(2, 3), 1), "cumprod": lambda x: t.cumprod(x(2, 3), 1),
        "mean": lambda x: t.mean(x(2, 3)),
        "cross_entropy": lambda x: F.cross_entropy(x(2, 3), T([0, 2])),
        "nll_loss": lambda x: F.nll_loss(x(2, 3), T([0, 2])),
        "mse_loss": lambda x: F.mse_loss(x(2, 3), x(2, 3)),
        "l1_loss": lambda x: F.l1_loss(x(2, 3), x(2, 3)),
        "smooth_l1_loss": lambda x: F.smooth_l1_loss(x(2, 3), x(2, 3)),
        "huber_loss": lambda x: F.huber_loss(x(2, 3), x(2, 3)),
        "kl_div": lambda x: F.kl_div(x(2, 3), P(x(2, 3)), reduction="batchmean"),
        "margin_ranking_loss": lambda x: F.margin_ranking_loss(x(3), x(3), T([1., -1., 1.])),
        "hinge_embedding_loss": lambda x: F.hinge_embedding_loss(x(3), T([1., -1., 1.])),
        "cosine_embedding_loss": lambda x: F.cosine_embedding_loss(x(2, 3), x(2, 3),
                                                                   T([1., -1.])),
        "triplet_margin_loss": lambda x: F.triplet_margin_loss(x(2, 3), x(2, 3), x(2, 3)),
        "poisson_nll_loss": lambda x: F.poisson_nll_loss(x(2, 3), P(x(2, 3))),
        "gaussian_nll_loss": lambda x: F.gaussian_nll_loss(x(2, 3), x(2, 3), P(x(2, 3))),
        "binary_cross_entropy_with_logits": lambda x: F.binary_cross_entropy_with_logits(
            x(2, 3), x(2, 3).sigmoid()),
        "binary_cross_entropy": lambda x: F.binary_cross_entropy(x(2, 3).sigmoid(),
                                                                 x(2, 3).sigmoid()),
        "ctc_loss": lambda x: F.ctc_loss(x(5, 1, 3).log_softmax(2), T([[1, 2]]), T([5]),
                                         T([2])),
        "pairwise_distance": lambda x: F.pairwise_distance(x(2, 3), x(2, 3)),
        "interpolate_nearest": lambda x: F.interpolate(x(1, 1, 4, 4), scale_factor=2),
        "interpolate_bilinear": lambda x: F.interpolate(x(1, 1, 4, 4), scale_factor=2,
                                                        mode="bilinear"),
        "max_pool2d": lambda x: F.max_pool2d(x(1, 1, 4, 4), 2),
        "avg_pool2d": lambda x: F.avg_pool2d(x(1, 1, 4, 4), 2),
        "adaptive_avg_pool2d": lambda x: F.adaptive_avg_pool2d(x(1, 1, 4, 4), 2),
        "relu": lambda x: F.relu(x(3)), "gelu": lambda x: F.gelu(x(3)),
        "sigmoid": lambda x: t.sigmoid(x(3)), "tanh": lambda x: t.tanh(x(3)),
        "silu": lambda x: F.silu(x(3)), "logsigmoid": lambda x: F.logsigmoid(x(3)),
        "sqrt": lambda x: t.sqrt(P(x(3))), "sin": lambda x: t.sin(x(3)),
        "cos": lambda x: t.cos(x(3)), "erf": lambda x: t.erf(x(3)),
        "var": lambda x: t.var(x(2, 3)), "std": lambda x: t.std(x(2, 3)),
        "add": lambda x: t.add(x(3), x(3)), "mul": lambda x: t.mul(x(3), x(3)),
        "sub": lambda x: x(3) - x(3), "div": lambda x: t.div(x(3), P(x(3))),
        "addcmul": lambda x: t.addcmul(x(3), x(3), x(3)),
        "addcdiv": lambda x: t.addcdiv(x(3), x(3), P(x(3))),
        "atan2": lambda x: t.atan2(x(3), x(3)), "cat": lambda x: t.cat([x(2), x(3)]),
        "stack": lambda x: t.stack([x(2), x(2)]),
        "where": lambda x: t.where(T([True, False]), x(2), x(2)),
        "lerp": lambda x: t.lerp(x(3), x(3), 0.5),
        "index_put": lambda x: x(3).index_put((T([0, 2]),), x(2)),
        "scatter_add": lambda x: x(3).scatter_add(0, T([0, 2]), x(2)),
        "index_add": lambda x: x(3).index_add(0, T([0, 2]), x(2)),
        "maximum": lambda x: t.maximum(x(3), x(3)),
        "embedding": lambda x: F.embedding(T([0, 1]), x(3, 2)),
        "dropout": lambda x: F.dropout(x(3), 0.0),
    }


# Output dtype on the CPU, per op: (float32 inputs in a bfloat16 region, bfloat16 inputs in a
# bfloat16 region, float32 inputs in a float16 region, float64 inputs in a bfloat16 region).
# Recorded from PyTorch 2.13 (torch.autocast("cpu", dtype=...)) with the same calls.
CPU_EXPECTED = {
    "matmul": ("bf16", "bf16", "f16", "f64"), "matmul_op": ("bf16", "bf16", "f16", "f64"),
    "rmatmul_op": ("bf16", "bf16", "f16", "f64"),
    "Tensor.matmul": ("bf16", "bf16", "f16", "f64"), "mm": ("bf16", "bf16", "f16", "f64"),
    "Tensor.mm": ("bf16", "bf16", "f16", "f64"), "bmm": ("bf16", "bf16", "f16", "f64"),
    "Tensor.bmm": ("bf16", "bf16", "f16", "f64"), "addmm": ("bf16", "bf16", "f16", "f64"),
    "Tensor.addmm": ("bf16", "bf16", "f16", "f64"),
    "mv": ("f32", "bf16", "f32", "f64"), "dot": ("f32", "bf16", "f32", "f64"),
    "outer": ("f32", "bf16", "f32", "f64"), "linear": ("bf16", "bf16", "f16", "f64"),
    "conv1d": ("bf16", "bf16", "f16", "f64"), "conv2d": ("bf16", "bf16", "f16", "f64"),
    "conv_transpose1d": ("bf16", "bf16", "f16", "f64"),
    "conv_transpose2d": ("bf16", "bf16", "f16", "f64"),
    "prelu": ("bf16", "bf16", "f16", "f64"),
    "scaled_dot_product_attention": ("bf16", "bf16", "f16", "f64"),
    "bilinear": ("f32", "bf16", "f32", "f64"),
    "acos": ("f32", "bf16", "f32", "f64"), "asin": ("f32", "bf16", "f32", "f64"),
    "cosh": ("f32", "bf16", "f32", "f64"), "sinh": ("f32", "bf16", "f32", "f64"),
    "tan": ("f32", "bf16", "f32", "f64"), "exp": ("f32", "bf16", "f32", "f64"),
    "Tensor.exp": ("f32", "bf16", "f32", "f64"), "expm1": ("f32", "bf16", "f32", "f64"),
    "log": ("f32", "bf16", "f32", "f64"), "Tensor.log": ("f32", "bf16", "f32", "f64"),
    "log10": ("f32", "bf16", "f32", "f64"), "log2": ("f32", "bf16", "f32", "f64"),
    "log1p": ("f32", "bf16", "f32", "f64"), "reciprocal": ("f32", "bf16", "f32", "f64"),
    "rsqrt": ("f32", "bf16", "f32", "f64"), "pow": ("f32", "bf16", "f32", "f64"),
    "pow_tt": ("f32", "bf16", "f32", "f64"), "Tensor.pow": ("f32", "bf16", "f32", "f64"),
    "pow_op": ("f32", "bf16", "f32", "f64"), "softplus": ("f32", "bf16", "f32", "f64"),
    "layer_norm": ("f32", "bf16", "f32", "f64"), "group_norm": ("f32", "bf16", "f32", "f64"),
    "batch_norm": ("f32", "bf16", "f32", "f64"),
    "instance_norm": ("f32", "bf16", "f32", "f64"), "rms_norm": ("f32", "bf16", "f32", "f64"),
    "norm": ("f32", "bf16", "f32", "f64"), "Tensor.norm": ("f32", "bf16", "f32", "f64"),
    "logsumexp": ("f32", "bf16", "f32", "f64"), "softmax": ("f32", "bf16", "f32", "f64"),
    "F.softmax": ("f32", "bf16", "f32", "f64"), "Tensor.softmax": ("f32", "bf16", "f32", "f64"),
    "log_softmax": ("f32", "bf16", "f32", "f64"),
    "F.log_softmax": ("f32", "bf16", "f32", "f64"), "softmin": ("f32", "bf16", "f32", "f64"),
    "sum": ("f32", "bf16", "f32", "f64"), "Tensor.sum": ("f32", "bf16", "f32", "f64"),
    "sum_dim": ("f32", "bf16", "f32", "f64"), "prod": ("f32", "f32", "f32", "f64"),
    "Tensor.prod": ("f32", "f32", "f32", "f64"),
    "cumsum": ("f32", "bf16", "f32", "f64"), "cumprod": ("f32", "bf16", "f32", "f64"),
    "mean": ("f32", "bf16", "f32", "f64"), "cross_entropy": ("f32", "f32", "f32", "f64"),
    "nll_loss": ("f32", "f32", "f32", "f64"), "mse_loss": ("f32", "f32", "f32", "f64"),
    "l1_loss": ("f32", "f32", "f32", "f64"), "smooth_l1_loss": ("f32", "f32", "f32", "f64"),
    "huber_loss": ("f32", "f32", "f32", "f64"), "kl_div": ("f32", "f32", "f32", "f64"),
    "margin_ranking_loss": ("f32", "f32", "f32", "f64"),
    "hinge_embedding_loss": ("f32", "f32", "f32", "f64"),
    "cosine_embedding_loss": ("f32", "f32", "f32", "f64"),
    "triplet_margin_loss": ("f32", "f32", "f32", "f64"),
    "poisson_nll_loss": ("f32", "f32", "f32", "f64"),
    "gaussian_nll_loss": ("f32", "bf16", "f32", "f64"),
    "binary_cross_entropy_with_logits": ("f32", "f32", "f32", "f64"),
    "binary_cross_entropy": ("f32", "f32", "f32", "f64"),
    "ctc_loss": ("f32", "f32", "f32", "f64"),
    "pairwise_distance": ("f32", "bf16", "f32", "f64"),
    "interpolate_nearest": ("f32", "bf16", "f32", "f64"),
    "interpolate_bilinear": ("f32", "bf16", "f32", "f64"),
    "max_pool2d": ("f32", "bf16", "f32", "f64"), "avg_pool2d": ("f32", "bf16", "f32", "f64"),
    "adaptive_avg_pool2d": ("f32", "bf16", "f32", "f64"),
    "relu": ("f32", "bf16", "f32", "f64"), "gelu": ("f32", "bf16", "f32", "f64"),
    "sigmoid": ("f32", "bf16", "f32", "f64"), "tanh": ("f32", "bf16", "f32", "f64"),
    "silu": ("f32", "bf16", "f32", "f64"), "logsigmoid": ("f32", "bf16", "f32", "f64"),
    "sqrt": ("f32", "bf16", "f32", "f64"), "sin": ("f32", "bf16", "f32", "f64"),
    "cos": ("f32", "bf16", "f32", "f64"), "erf": ("f32", "bf16", "f32", "f64"),
    "var": ("f32", "bf16", "f32", "f64"), "std": ("f32", "bf16", "f32", "f64"),
    "add": ("f32", "bf16", "f32", "f64"), "mul": ("f32", "bf16", "f32", "f64"),
    "sub": ("f32", "bf16", "f32", "f64"), "div": ("f32", "bf16", "f32", "f64"),
    "addcmul": ("f32", "bf16", "f32", "f64"), "addcdiv": ("f32", "bf16", "f32", "f64"),
    "atan2": ("f32", "bf16", "f32", "f64"), "cat": ("f32", "bf16", "f32", "f64"),
    "stack": ("f32", "bf16", "f32", "f64"), "where": ("f32", "bf16", "f32", "f64"),
    "lerp": ("f32", "bf16", "f32", "f64"), "index_put": ("f32", "bf16", "f32", "f64"),
    "scatter_add": ("f32", "bf16", "f32", "f64"), "index_add": ("f32", "bf16", "f32", "f64"),
    "maximum": ("f32", "bf16", "f32", "f64"), "embedding": ("f32", "bf16", "f32", "f64"),
    "dropout": ("f32", "bf16", "f32", "f64"),
}
CONFIGS = [(F32, BF), (BF, BF), (F32, H), (F64, BF)]


def _maker(t, dtype):
    gen = np.random.default_rng(0)
    return lambda *s: t.tensor(gen.uniform(-1, 1, size=s).astype(np.float32)).to(dtype)


def test_table_covers_every_op():
    assert set(CPU_EXPECTED) == set(_ops(ranvier, F))


@pytest.mark.parametrize("name", sorted(CPU_EXPECTED))
def test_cpu_output_dtypes_inside_and_outside(name):
    fn = _ops(ranvier, F)[name]
    for k, (in_dtype, region_dtype) in enumerate(CONFIGS):
        with ranvier.autocast("cpu", dtype=region_dtype):
            out = fn(_maker(ranvier, in_dtype))
        out = out[0] if isinstance(out, tuple) else out
        assert out.dtype == SHORT[CPU_EXPECTED[name][k]], (name, in_dtype, region_dtype)
    # outside a region nothing is cast: float32 / float64 inputs give float32 / float64, and
    # the lower-precision ops keep bfloat16 inputs in bfloat16
    ins = (F32, F64, BF) if CPU_EXPECTED[name][0] == "bf16" else (F32, F64)
    for in_dtype in ins:
        out = fn(_maker(ranvier, in_dtype))
        out = out[0] if isinstance(out, tuple) else out
        assert out.dtype == in_dtype, (name, in_dtype)


def test_cpu_dtypes_match_torch():
    torch = pytest.importorskip("torch")
    import torch.nn.functional as TF
    short = {torch.float32: "f32", torch.bfloat16: "bf16", torch.float16: "f16",
             torch.float64: "f64"}
    tdt = {F32: torch.float32, BF: torch.bfloat16, H: torch.float16, F64: torch.float64}
    ops = _ops(torch, TF)
    for name in sorted(CPU_EXPECTED):
        for k, (in_dtype, region_dtype) in enumerate(CONFIGS):
            with torch.autocast("cpu", dtype=tdt[region_dtype]):
                out = ops[name](_maker(torch, tdt[in_dtype]))
            out = out[0] if isinstance(out, tuple) else out
            assert short[out.dtype] == CPU_EXPECTED[name][k], (name, k)


def test_values_and_float32_gradients():
    rng = np.random.default_rng(1)
    xn, wn, bn = (rng.standard_normal(s).astype(np.float32) for s in ((5, 3), (4, 3), (4,)))
    x = ranvier.tensor(xn, requires_grad=True)
    w = ranvier.tensor(wn, requires_grad=True)
    b = ranvier.tensor(bn, requires_grad=True)
    with ranvier.autocast("cpu"):
        y = F.linear(x, w, b)
        loss = (y.float() ** 2).sum()
    assert y.dtype == BF and loss.dtype == F32
    loss.backward()
    rb = lambda a: to_np(ranvier.tensor(a).bfloat16())  # noqa: E731  (bfloat16 rounding)
    yn = rb(xn) @ rb(wn).T + rb(bn)
    assert_close(y.float(), yn, rtol=2e-2, atol=2e-2)
    for leaf in (x, w, b):
        assert leaf.grad.dtype == F32
    gy = 2 * yn
    assert_close(w.grad, gy.T @ rb(xn), rtol=5e-2, atol=5e-2)
    assert_close(x.grad, gy @ rb(wn), rtol=5e-2, atol=5e-2)
    assert_close(b.grad, gy.sum(0), rtol=5e-2, atol=5e-2)


def test_float64_inputs_are_left_alone():
    a = ranvier.randn(3, 3, dtype=F64)
    with ranvier.autocast("cpu"):
        assert ranvier.mm(a, a).dtype == F64
        assert F.cross_entropy(a, ranvier.tensor([0, 1, 2])).dtype == F64


def test_nesting_and_enabled_false():
    a = ranvier.randn(2, 2)
    assert not ranvier.is_autocast_enabled("cpu")
    with ranvier.autocast("cpu"):
        assert ranvier.mm(a, a).dtype == BF
        with ranvier.autocast("cpu", dtype=H):
            assert ranvier.mm(a, a).dtype == H
            assert ranvier.get_autocast_dtype("cpu") == H
            with ranvier.autocast("cpu", enabled=False):
                assert not ranvier.is_autocast_enabled("cpu")
                assert ranvier.mm(a, a).dtype == F32
                assert ranvier.get_autocast_dtype("cpu") == H  # the dtype is kept, unused
            assert ranvier.mm(a, a).dtype == H
        assert ranvier.get_autocast_dtype("cpu") == BF
        assert ranvier.mm(a, a).dtype == BF
        assert ranvier.is_autocast_enabled("cpu") and not ranvier.is_autocast_enabled("cuda")
        assert not ranvier.is_autocast_enabled()  # no argument: cuda, as PyTorch
    assert not ranvier.is_autocast_enabled("cpu")
    assert ranvier.mm(a, a).dtype == F32
    assert ranvier.get_autocast_dtype("cpu") == BF and ranvier.get_autocast_dtype("cuda") == H


def test_state_restored_after_an_exception():
    with pytest.raises(KeyError):
        with ranvier.autocast("cpu", dtype=H):
            raise KeyError("x")
    assert not ranvier.is_autocast_enabled("cpu")
    assert ranvier.get_autocast_dtype("cpu") == BF
    assert _C._autocast_cache_size() == 0


def test_amp_autocast_is_the_same_class():
    assert ranvier.amp.autocast is ranvier.autocast
    with ranvier.amp.autocast("cpu"):
        assert ranvier.is_autocast_enabled("cpu")


def test_decorator():
    a = ranvier.randn(2, 2)

    @ranvier.autocast("cpu", dtype=H)
    def f(x, depth=0):
        assert ranvier.is_autocast_enabled("cpu")
        if depth < 2:  # recursion re-enters the region; each call restores on exit
            f(x, depth + 1)
            assert ranvier.is_autocast_enabled("cpu")
        return x @ x

    assert f(a).dtype == H
    assert f.__name__ == "f"
    assert not ranvier.is_autocast_enabled("cpu")

    @ranvier.autocast("cpu", enabled=False)
    def g(x):
        return x @ x

    with ranvier.autocast("cpu"):
        assert g(a).dtype == F32
        assert (a @ a).dtype == BF


def test_thread_local():
    a = ranvier.randn(2, 2)
    seen = {}
    ready, done = threading.Event(), threading.Event()

    def other():
        seen["enabled_in_thread"] = ranvier.is_autocast_enabled("cpu")
        seen["dtype_in_thread"] = ranvier.mm(a, a).dtype
        with ranvier.autocast("cpu", dtype=H):
            ready.set()
            done.wait(5)
            seen["own_region"] = ranvier.mm(a, a).dtype

    with ranvier.autocast("cpu"):
        t = threading.Thread(target=other)
        t.start()
        ready.wait(5)
        assert ranvier.mm(a, a).dtype == BF  # the other thread's float16 region is not ours
        done.set()
        t.join()
    assert seen == {"enabled_in_thread": False, "dtype_in_thread": F32, "own_region": H}
    assert ranvier.mm(a, a).dtype == F32


def test_weight_cast_cache():
    x = ranvier.randn(3, 4)
    lin = ranvier.nn.Linear(4, 2)
    with ranvier.autocast("cpu"):
        lin(x)
        assert _C._autocast_cache_size() == 2  # weight and bias
        lin(x)
        F.linear(x, lin.weight)
        assert _C._autocast_cache_size() == 2  # reused, not re-cast
        ranvier.mm(x, (lin.weight * 1).t())  # a non-leaf is never cached
        assert _C._autocast_cache_size() == 2
        with ranvier.no_grad():
            ranvier.mm(x, lin.weight.t())  # no caching without grad mode
        with ranvier.autocast("cpu", enabled=False):
            pass
        assert _C._autocast_cache_size() == 2  # an inner exit keeps the cache
    assert _C._autocast_cache_size() == 0  # the outermost exit empties it
    with ranvier.autocast("cpu", cache_enabled=False):
        lin(x)
        assert _C._autocast_cache_size() == 0
    assert ranvier.is_autocast_cache_enabled()


def test_cache_follows_in_place_updates():
    xn = np.ones((1, 2), np.float32)
    w = ranvier.tensor([[1.0, 2.0]], requires_grad=True)
    with ranvier.autocast("cpu"):
        y1 = F.linear(ranvier.tensor(xn), w)
        with ranvier.no_grad():
            w.add_(1.0)
        y2 = F.linear(ranvier.tensor(xn), w)
    assert_close(y1.float(), np.array([[3.0]], np.float32))
    assert_close(y2.float(), np.array([[5.0]], np.float32))


def test_cached_weight_gradient_accumulates_through_one_cast():
    w = ranvier.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    x = ranvier.ones(1, 2)
    with ranvier.autocast("cpu"):
        out = F.linear(x, w).float().sum() + F.linear(2 * x, w).float().sum()
    out.backward()
    assert w.grad.dtype == F32
    assert_close(w.grad, np.full((2, 2), 3.0, np.float32))


def test_modules_under_autocast():
    net = ranvier.nn.Sequential(ranvier.nn.Conv2d(1, 2, 3), ranvier.nn.ReLU(),
                                ranvier.nn.MaxPool2d(2), ranvier.nn.Flatten(),
                                ranvier.nn.Linear(2, 3))
    x = ranvier.randn(2, 1, 4, 4)
    with ranvier.autocast("cpu"):
        y = net(x)
        loss = ranvier.nn.CrossEntropyLoss()(y, ranvier.tensor([0, 2]))
    assert y.dtype == BF and loss.dtype == F32
    loss.backward()
    assert all(p.grad is not None and p.grad.dtype == F32 for p in net.parameters())


def _run_as(module_name, src, **env):
    glb = {"__name__": module_name, "ranvier": ranvier, **env}
    exec(compile(src, f"<{module_name}>", "exec"), glb)
    return glb["out"]


def test_only_user_calls_are_cast():
    a = ranvier.randn(2, 2)
    with ranvier.autocast("cpu"):
        # an op called from ranvier's own implementation modules is part of a composition
        assert _run_as("ranvier.nn._functional_example", "out = ranvier.mm(a, a)", a=a).dtype == F32
        assert _run_as("ranvier", "out = a @ a", a=a).dtype == F32
        # user code, and the layers a user calls into, are cast
        for mod in ("__main__", "ranvier.nn.modules.example", "ranvier.train.example",
                    "ranvierx", "mypackage.ranvier"):
            assert _run_as(mod, "out = ranvier.mm(a, a)", a=a).dtype == BF, mod
        # a composite op is cast once at its entry, not inside (multi_head_attention_forward
        # is not listed, so its internal linear/matmul calls keep float32)
        e = 4
        q = ranvier.randn(3, 1, e)
        out, _ = F.multi_head_attention_forward(
            q, q, q, e, 2, ranvier.randn(3 * e, e), ranvier.zeros(3 * e), None, None, False,
            0.0, ranvier.randn(e, e), ranvier.zeros(e), training=False)
        assert out.dtype == F32


def _hook(policy, fn=None):
    return _C._autocast_hook(fn or (lambda *a, **k: [t.dtype for t in a if
                                                      isinstance(t, ranvier.Tensor)]),
                             "example", policy, "none")


def test_policies_on_custom_hooks():
    f32, bf, f64 = ranvier.zeros(1), ranvier.zeros(1, dtype=BF), ranvier.zeros(1, dtype=F64)
    i64 = ranvier.zeros(1, dtype=ranvier.int64)
    with ranvier.autocast("cpu"):
        assert _hook("lower")(f32, bf, f64, i64) == [BF, BF, F64, ranvier.int64]
        assert _hook("fp32")(f32, bf, f64, i64) == [F32, F32, F64, ranvier.int64]
        assert _hook("promote")(bf, bf) == [BF, BF]
        assert _hook("promote")(bf, f32, f64) == [F32, F32, F64]
        assert _hook("none")(f32, bf) == [F32, BF]
        # tensors inside lists and tuples are cast too (cat, stack, index_put)
        seen = _hook("promote", lambda ts, **k: [t.dtype for t in ts])([bf, f32])
        assert seen == [F32, F32]
        seen = _hook("lower", lambda ts: type(ts).__name__ + str([t.dtype for t in ts]))((f32,))
        assert seen == "tuple[ranvier.bfloat16]"
        # keyword tensors are cast; an explicit dtype turns the fp32 policy off
        kw = _hook("fp32", lambda x=None, dtype=None: (x.dtype, dtype))
        assert kw(x=bf) == (F32, None)
        assert kw(x=bf, dtype=H) == (BF, H)
        assert _hook("fp32", lambda x, d: x.dtype)(bf, H) == BF
        # fp32_dtype: the tensors stay, dtype=float32 is passed (not for a float64 first
        # tensor, not over an explicit dtype)
        fd = _hook("fp32_dtype", lambda x, y=None, dtype=None: (x.dtype, y.dtype, dtype))
        assert fd(bf, y=bf) == (BF, BF, F32)
        assert fd(f32, bf) == (F32, BF, F32)
        assert fd(f64, bf) == (F64, BF, None)
        assert fd(bf, bf, dtype=H) == (BF, BF, H)
        with pytest.raises(RuntimeError, match="example is unsafe to autocast on cpu"):
            _hook("banned")(f32)
        assert _hook("banned")(1, 2) == []  # no tensor argument: nothing to decide
    assert _hook("lower")(f32, bf) == [F32, BF]
    assert _hook("banned")(f32) == [F32]


def test_hook_object_behaves_like_the_function():
    assert ranvier.mm.__name__ == "mm" and ranvier.mm.__wrapped__ is not None
    assert F.linear.__name__ == "linear" and "linear" in repr(F.linear)
    a = ranvier.randn(2, 2)
    assert_close(ranvier.Tensor.mm(a, a), to_np(a) @ to_np(a), rtol=1e-5)
    assert_close(a.mm(a), to_np(a) @ to_np(a), rtol=1e-5)


CUDA_EXPECTED = {
    "lower": {"matmul", "mm", "bmm", "addmm", "mv", "linear", "conv1d", "conv2d",
              "conv_transpose1d", "conv_transpose2d", "prelu", "scaled_dot_product_attention"},
    "fp32": {"prod", "acos", "arccos", "asin", "arcsin", "cosh", "sinh", "tan", "exp", "expm1",
             "log", "log10", "log2", "log1p", "reciprocal", "rsqrt", "pow", "softplus",
             "logsumexp", "norm", "softmax", "log_softmax", "cumsum", "cumprod", "sum",
             "layer_norm", "group_norm", "rms_norm", "softmin", "cross_entropy", "nll_loss",
             "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "kl_div",
             "margin_ranking_loss", "hinge_embedding_loss", "cosine_embedding_loss",
             "triplet_margin_loss", "poisson_nll_loss", "binary_cross_entropy_with_logits",
             "interpolate", "upsample", "upsample_nearest", "upsample_bilinear"},
    "promote": {"addcmul", "addcdiv", "atan2", "arctan2", "dot", "index_put", "scatter_add",
                "bilinear"},
    "banned": {"binary_cross_entropy"},
}


def test_every_listed_callable_is_hooked():
    from ranvier.amp import _policies as P
    assert P.MISSING == []
    hook_type = type(ranvier.mm)
    assert hook_type.__name__ == "_AutocastHook"
    for name, _, _ in P.FUNCTIONS:
        assert type(getattr(ranvier, name)) is hook_type, name
    for name, _, _ in P.METHODS:
        assert type(ranvier.Tensor.__dict__[name]) is hook_type, name
    for _, name, _, _ in P.FUNCTIONAL:
        assert type(getattr(F, name)) is hook_type, name
    P.install()  # a second call changes nothing
    assert type(ranvier.mm.__wrapped__) is not hook_type


def test_cuda_lists():
    from ranvier.amp import _policies as P
    got = {}
    rows = [(n, g) for n, _, g in P.FUNCTIONS] + [(n, g) for _, n, _, g in P.FUNCTIONAL]
    rows += [(n.strip("_").replace("r", "", 1) if n.startswith("__r") else n.strip("_"), g)
             for n, _, g in P.METHODS]
    for name, policy in rows:
        if policy == "fp32_dtype":  # a float32 result asked through dtype=: the fp32 outcome
            policy = "fp32"
        if policy is not None:
            got.setdefault(policy, set()).add(name)
    got["fp32"].discard("pow")  # __pow__ / __rpow__ map to pow
    got["fp32"].add("pow")
    got["lower"] -= {"matmul"}
    got["lower"].add("matmul")
    assert got == CUDA_EXPECTED


def test_cuda_region_without_cuda_warns_and_disables():
    if ranvier.cuda.is_available():
        pytest.skip("CUDA is available here")
    with pytest.warns(UserWarning, match="CUDA is not available"):
        ctx = ranvier.autocast("cuda")
    with ctx:
        assert not ranvier.is_autocast_enabled("cuda")


def test_unsupported_dtype_warns_and_disables():
    for dt in (F32, F64):
        with pytest.warns(UserWarning, match="supports float16 and bfloat16"):
            ctx = ranvier.autocast("cpu", dtype=dt)
        with ctx:
            assert not ranvier.is_autocast_enabled("cpu")


def test_errors():
    with pytest.raises(RuntimeError, match="autocast: expected device_type 'cpu' or 'cuda'"):
        ranvier.autocast("tpu")
    with pytest.raises(ValueError, match="autocast: expected `device_type` of type `str`"):
        ranvier.autocast(0)
    with pytest.raises(TypeError, match="autocast: dtype must be a ranvier dtype"):
        ranvier.autocast("cpu", dtype="bfloat16")
    with pytest.raises(TypeError, match="autocast: enabled must be a bool"):
        ranvier.autocast("cpu", enabled=1)
    with pytest.raises(TypeError, match="autocast: expected a callable to decorate"):
        ranvier.autocast("cpu")(3)
    with pytest.raises(RuntimeError, match="get_autocast_dtype: expected device_type"):
        ranvier.get_autocast_dtype("tpu")
    with pytest.raises(RuntimeError, match="is_autocast_enabled: expected device_type"):
        ranvier.is_autocast_enabled("mps")
    with pytest.raises(ValueError, match="set_autocast_dtype: expected float16, bfloat16 or "
                                         "float32, but got int64"):
        ranvier.set_autocast_dtype("cpu", ranvier.int64)
    with pytest.raises(RuntimeError, match="set_autocast_enabled: expected device_type"):
        ranvier.set_autocast_enabled("xla", True)
    with pytest.raises(ValueError, match="_autocast_hook: unknown policy 'fast'"):
        _C._autocast_hook(len, "x", "fast", "none")
    with pytest.raises(TypeError, match="_autocast_hook: expected a callable"):
        _C._autocast_hook(3, "x", "lower", "none")
    assert ranvier.amp.is_autocast_available("cpu") and not ranvier.amp.is_autocast_available("tpu")


def test_set_functions_round_trip():
    try:
        ranvier.set_autocast_enabled("cpu", True)
        ranvier.set_autocast_dtype("cpu", H)
        a = ranvier.randn(2, 2)
        assert ranvier.mm(a, a).dtype == H
        ranvier.set_autocast_cache_enabled(False)
        assert not ranvier.is_autocast_cache_enabled()
    finally:
        ranvier.set_autocast_enabled("cpu", False)
        ranvier.set_autocast_dtype("cpu", BF)
        ranvier.set_autocast_cache_enabled(True)
        ranvier.clear_autocast_cache()


def test_deprecated_aliases():
    import importlib
    a = ranvier.randn(2, 2)
    with pytest.warns(FutureWarning, match=r"ranvier.cpu.amp.autocast\(args...\) is deprecated"):
        ctx = ranvier.cpu.amp.autocast()
    with ctx:
        assert ranvier.mm(a, a).dtype == BF
    with pytest.warns(FutureWarning):
        ctx = ranvier.cpu.amp.autocast(dtype=H)
    with ctx:
        assert ranvier.mm(a, a).dtype == H
    assert importlib.import_module("ranvier.cpu.amp") is ranvier.cpu.amp
    assert importlib.import_module("ranvier.cuda.amp") is ranvier.cuda.amp
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        c = ranvier.cuda.amp.autocast(enabled=False)
    assert c.device == "cuda" and c.fast_dtype == H
    with pytest.warns(FutureWarning, match="GradScaler"):
        s = ranvier.cpu.amp.GradScaler(init_scale=8.0)
    assert s.get_scale() == 8.0 and s.is_enabled()
    with pytest.raises(AttributeError):
        ranvier.cpu.nothing_here


@given(pair=broadcastable_pair(max_dims=3, max_side=4), k=st.integers(0, 4),
       strided=st.booleans())
def test_matmul_in_region_random_shapes(pair, k, strided):
    sa, sb = pair
    sa, sb = sa + (k,), sb[:-1] + (k, 3) if sb else (k, 3)
    rng = np.random.default_rng(k)
    an, bn = rng.uniform(-1, 1, sa).astype(np.float32), rng.uniform(-1, 1, sb).astype(np.float32)
    a, b = ranvier.tensor(an), ranvier.tensor(bn)
    if strided:
        a, b = noncontiguous(a), noncontiguous(b)
    with ranvier.autocast("cpu"):
        out = ranvier.matmul(a, b)
    assert out.dtype == BF
    rb = lambda x: to_np(ranvier.tensor(x).bfloat16()).astype(np.float64)  # noqa: E731
    assert_close(out.double(), np.matmul(rb(an), rb(bn)), rtol=2e-2, atol=2e-2)
