"""Linear / Bilinear layers and functional linear / bilinear against NumPy, gradcheck,
default initialisation ranges, errors."""
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

import ranvier as rv
import ranvier.nn as nn
import ranvier.nn.functional as F
from helpers import assert_close, from_np, gradcheck, noncontiguous, rand_np, to_np


@given(lead=st.lists(st.integers(0, 3), min_size=0, max_size=3), fin=st.integers(1, 5),
       fout=st.integers(1, 4), bias=st.booleans())
def test_linear_matches_numpy_any_leading_dims(lead, fin, fout, bias):
    x = rand_np(tuple(lead) + (fin,))
    w = rand_np((fout, fin))
    b = rand_np((fout,)) if bias else None
    out = F.linear(from_np(x), from_np(w), from_np(b) if bias else None)
    expect = x @ w.T + (b if bias else 0)
    assert_close(out, expect.astype(np.float32), rtol=1e-5, atol=1e-5)


def test_linear_noncontiguous_and_float64():
    x = rand_np((3, 4), np.float64)
    w = rand_np((2, 4), np.float64)
    b = rand_np((2,), np.float64)
    out = F.linear(noncontiguous(from_np(x)), noncontiguous(from_np(w)), from_np(b))
    assert_close(out, x @ w.T + b, rtol=1e-12, atol=1e-12)


def test_linear_gradcheck_2d_and_3d():
    rng = np.random.default_rng(1)
    assert gradcheck(lambda x, w, b: F.linear(x, w, b), rng.standard_normal((3, 4)),
                     rng.standard_normal((2, 4)), rng.standard_normal(2))
    assert gradcheck(lambda x, w, b: F.linear(x, w, b), rng.standard_normal((2, 3, 4)),
                     rng.standard_normal((2, 4)), rng.standard_normal(2))
    assert gradcheck(lambda x, w: F.linear(x, w), rng.standard_normal(4),
                     rng.standard_normal((2, 4)))


def test_linear_module_init_ranges_and_shapes():
    rv.manual_seed(0)
    lin = nn.Linear(50, 40)
    assert tuple(lin.weight.shape) == (40, 50) and tuple(lin.bias.shape) == (40,)
    bound = 1 / math.sqrt(50)  # kaiming_uniform_(a=sqrt(5)) gives U(-1/sqrt(fan_in), ...)
    w = to_np(lin.weight)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.05 * bound
    assert np.abs(to_np(lin.bias)).max() <= bound
    assert lin.weight.requires_grad and lin.weight.is_leaf
    lin64 = nn.Linear(2, 3, dtype=rv.float64)
    assert lin64.weight.dtype == rv.float64
    with pytest.warns(UserWarning, match="zero-element"):
        assert nn.Linear(0, 3).bias is not None  # fan_in 0: bias bound 0


def test_linear_module_forward_backward_vs_numpy(device):
    lin = nn.Linear(4, 3).to(device)
    x = rand_np((5, 4))
    xt = from_np(x, device, requires_grad=True)
    out = lin(xt)
    w, b = to_np(lin.weight), to_np(lin.bias)
    assert_close(out, x @ w.T + b, rtol=1e-5, atol=1e-5)
    g = rand_np((5, 3))
    out.backward(from_np(g, device))
    assert_close(xt.grad, g @ w, rtol=1e-5, atol=1e-5)
    assert_close(lin.weight.grad, g.T @ x, rtol=1e-5, atol=1e-5)
    assert_close(lin.bias.grad, g.sum(0), rtol=1e-5, atol=1e-5)


def test_linear_zero_size(device):
    lin = nn.Linear(3, 2).to(device)
    assert tuple(lin(rv.zeros(0, 3, device=device)).shape) == (0, 2)
    with pytest.warns(UserWarning, match="zero-element"):
        empty_in = nn.Linear(0, 2).to(device)
    assert tuple(empty_in(rv.zeros(4, 0, device=device)).shape) == (4, 2)


def test_linear_shape_error():
    with pytest.raises(RuntimeError, match=r"linear: .*\[2, 5\].*\[3, 4\]"):
        F.linear(rv.zeros(2, 5), rv.zeros(4, 3))
    with pytest.raises(RuntimeError, match="linear"):
        nn.Linear(3, 2)(rv.zeros(4))
    with pytest.raises(RuntimeError,
                       match=r"linear: weight must be 1-D or 2-D, got shape \[2, 3, 4\]"):
        F.linear(rv.zeros(2, 4), rv.zeros(2, 3, 4))
    with pytest.raises(RuntimeError, match=r"linear: .*input \[\]"):
        F.linear(rv.tensor(1.0), rv.zeros(2, 1))


def test_bilinear_matches_numpy_and_gradcheck(device):
    x1, x2 = rand_np((2, 3, 4)), rand_np((2, 3, 5))
    w, b = rand_np((6, 4, 5)), rand_np((6,))
    out = F.bilinear(from_np(x1, device), from_np(x2, device), from_np(w, device),
                     from_np(b, device))
    expect = np.einsum("...i,oij,...j->...o", x1, w, x2) + b
    assert_close(out, expect.astype(np.float32), rtol=1e-4, atol=1e-4)
    rng = np.random.default_rng(2)
    assert gradcheck(lambda a, c, ww, bb: F.bilinear(a, c, ww, bb), rng.standard_normal((3, 2)),
                     rng.standard_normal((3, 3)), rng.standard_normal((2, 2, 3)),
                     rng.standard_normal(2))
    m = nn.Bilinear(4, 5, 6)
    assert tuple(m.weight.shape) == (6, 4, 5)
    assert np.abs(to_np(m.weight)).max() <= 1 / math.sqrt(4)
    assert tuple(m(from_np(x1), from_np(x2)).shape) == (2, 3, 6)
    assert repr(m) == "Bilinear(in1_features=4, in2_features=5, out_features=6, bias=True)"
    with pytest.raises(RuntimeError, match="bilinear"):
        m(rv.zeros(2, 3), rv.zeros(2, 5))


def test_linear_matches_torch():
    torch = pytest.importorskip("torch")
    t = torch.nn.Linear(4, 3)
    r = nn.Linear(4, 3)
    r.load_state_dict({k: rv.from_numpy(v.detach().numpy().copy())
                       for k, v in t.state_dict().items()})
    x = rand_np((2, 5, 4))
    assert_close(r(from_np(x)), t(torch.from_numpy(x)).detach().numpy(), rtol=1e-5, atol=1e-6)
