"""CUDA recurrent-layer kernels (skipped without a CUDA device): the fused layer op
_C._rnn_layer (LSTM, GRU, tanh and relu RNN; forward and reverse; with and without b_hh and
sequence lengths) on CUDA against the CPU: outputs y, h_n, c_n and the gradients of the input
projections, h0, c0, W_hh and b_hh, for float32 and float64, odd sizes, T = 0, and the errors
for dtypes the op does not take. Gradients via autograd.backward with given output
gradients: CUDA has no reductions yet."""
import numpy as np
import pytest

import ranvier
from helpers import from_np, to_np

_C = ranvier._C
pytestmark = pytest.mark.skipif(not ranvier.cuda.is_available(), reason="no CUDA device")

DTYPES = [ranvier.float32, ranvier.float64]
# the CPU's float gates use fast approximations of exp / tanh
TOL = {ranvier.float32: 5e-5, ranvier.float64: 1e-11}
GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


def rnd(shape, seed=0):
    return np.random.default_rng(seed).uniform(-1.0, 1.0, size=shape)


def on(a, dtype, device):
    return from_np(a).to(dtype).to(device)


def vals(t):
    return to_np(t.detach().cpu())


def run(device, dtype, mode, t, b, h, reverse, with_bias, lengths):
    g = GATES[mode]
    lstm = mode == "LSTM"
    xp = on(rnd((t, b, g * h)), dtype, device).requires_grad_(True)
    h0 = on(rnd((b, h), 1), dtype, device).requires_grad_(True)
    c0 = on(rnd((b, h), 2), dtype, device).requires_grad_(True) if lstm else None
    w = on(rnd((g * h, h), 3) * 0.7, dtype, device).requires_grad_(True)
    bh = on(rnd((g * h,), 4), dtype, device).requires_grad_(True) if with_bias else None
    y, hn, cn = _C._rnn_layer(mode, xp, h0, c0, w, bh, reverse, lengths, "LSTM" if lstm else mode)
    outs = [y, hn] + ([cn] if lstm else [])
    grads = [on(rnd(tuple(o.shape), 10 + i), dtype, device) for i, o in enumerate(outs)]
    ranvier.autograd.backward(outs, grads)
    leaves = [xp, h0, w] + ([c0] if lstm else []) + ([bh] if with_bias else [])
    return outs + [x.grad for x in leaves]


CASES = [  # (T, B, H, reverse, b_hh, lengths)
    (5, 3, 4, False, True, None),
    (4, 2, 7, True, True, None),
    (1, 1, 1, False, False, None),
    (6, 4, 5, False, True, [6, 3, 0, 5]),
    (6, 4, 5, True, False, [2, 6, 6, 1]),
    (3, 37, 33, False, True, None),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("mode", list(GATES))
@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(map(str, c[:5])))
def test_rnn_layer_matches_cpu(dtype, mode, case):
    cuda = run("cuda", dtype, mode, *case)
    cpu = run("cpu", dtype, mode, *case)
    assert all(x.is_cuda for x in cuda)
    for a, b in zip(cuda, cpu):
        assert a.shape == b.shape
        np.testing.assert_allclose(vals(a), vals(b), rtol=TOL[dtype], atol=TOL[dtype])


@pytest.mark.parametrize("mode", list(GATES))
def test_zero_steps(mode):
    g, lstm = GATES[mode], mode == "LSTM"
    h0 = on(rnd((2, 3)), ranvier.float64, "cuda")
    c0 = on(rnd((2, 3), 1), ranvier.float64, "cuda") if lstm else None
    xp = ranvier.zeros(0, 2, g * 3, dtype=ranvier.float64, device="cuda")
    w = on(rnd((g * 3, 3), 2), ranvier.float64, "cuda")
    y, hn, cn = _C._rnn_layer(mode, xp, h0, c0, w, None, False, None, "_rnn_layer")
    assert tuple(y.shape) == (0, 2, 3) and y.is_cuda
    np.testing.assert_array_equal(vals(hn), vals(h0))
    if lstm:
        np.testing.assert_array_equal(vals(cn), vals(c0))


def test_float16_raises():
    xp = ranvier.zeros(2, 1, 4, dtype=ranvier.float16, device="cuda")
    h0 = ranvier.zeros(1, 1, dtype=ranvier.float16, device="cuda")
    w = ranvier.zeros(4, 1, dtype=ranvier.float16, device="cuda")
    with pytest.raises(TypeError, match="float32 or float64"):
        _C._rnn_layer("LSTM", xp, h0, h0, w, None, False, None, "LSTM")
