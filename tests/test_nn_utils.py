"""nn.utils: clip_grad_norm_ / clip_grad_value_ against NumPy, parameters_to_vector and
vector_to_parameters."""
import math

import numpy as np
import pytest

import ranvier as rv
import ranvier.nn as nn
from ranvier.nn.utils import (clip_grad_norm_, clip_grad_value_, parameters_to_vector,
                              vector_to_parameters)
from helpers import assert_close, from_np, to_np


def _params_with_grads(rng, shapes):
    ps = []
    for s in shapes:
        p = nn.Parameter(from_np(rng.standard_normal(s).astype(np.float32)))
        p.grad = from_np(rng.standard_normal(s).astype(np.float32) * 3)
        ps.append(p)
    return ps


@pytest.mark.parametrize("norm_type", [1.0, 2.0, 3.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 1e6])
def test_clip_grad_norm_matches_numpy(norm_type, max_norm):
    rng = np.random.default_rng(0)
    ps = _params_with_grads(rng, [(3, 4), (5,), (2, 2, 2)])
    grads = [to_np(p.grad).astype(np.float64) for p in ps]
    flat = np.concatenate([g.ravel() for g in grads])
    total = np.abs(flat).max() if math.isinf(norm_type) else \
        (np.abs(flat) ** norm_type).sum() ** (1 / norm_type)
    out = clip_grad_norm_(ps, max_norm, norm_type)
    assert abs(float(out) - total) < 1e-4 * total
    coef = min(1.0, max_norm / (total + 1e-6))
    for p, g in zip(ps, grads):
        assert_close(p.grad, (g * coef).astype(np.float32), rtol=1e-5, atol=1e-6)


def test_clip_grad_norm_skips_params_without_grad_and_accepts_tensor():
    p = nn.Parameter(rv.ones(3))
    q = nn.Parameter(rv.ones(2))
    p.grad = rv.full((3,), 4.0)
    out = clip_grad_norm_(iter([p, q]), 1.0)
    assert abs(float(out) - math.sqrt(48)) < 1e-5
    assert q.grad is None
    p.grad = rv.full((3,), 4.0)
    clip_grad_norm_(p, 1.0)
    assert abs(float(p.grad.norm()) - 1.0) < 1e-5
    assert float(clip_grad_norm_([q], 1.0)) == 0.0


def test_clip_grad_norm_nonfinite():
    p = nn.Parameter(rv.ones(2))
    p.grad = rv.tensor([float("inf"), 1.0])
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    out = clip_grad_norm_([p], 1.0)
    assert math.isinf(float(out))


def test_clip_grad_value():
    rng = np.random.default_rng(1)
    ps = _params_with_grads(rng, [(4, 4), (3,)])
    grads = [to_np(p.grad) for p in ps]
    clip_grad_value_(ps, 0.5)
    for p, g in zip(ps, grads):
        assert_close(p.grad, np.clip(g, -0.5, 0.5))


def test_parameters_vector_round_trip():
    lin = nn.Linear(3, 2)
    vec = parameters_to_vector(lin.parameters())
    expect = np.concatenate([to_np(lin.weight).ravel(), to_np(lin.bias).ravel()])
    assert_close(vec, expect)
    new = rv.arange(8, dtype=rv.float32)
    vector_to_parameters(new, lin.parameters())
    assert_close(lin.weight, np.arange(6, dtype=np.float32).reshape(2, 3))
    assert_close(lin.bias, np.array([6, 7], np.float32))
    assert isinstance(lin.weight, nn.Parameter)
    # parameters_to_vector is differentiable
    parameters_to_vector(lin.parameters()).sum().backward()
    assert_close(lin.weight.grad, np.ones((2, 3), np.float32))
    with pytest.raises(TypeError, match="expected ranvier.Tensor"):
        vector_to_parameters([1, 2], lin.parameters())
    with pytest.raises(ValueError, match="vector_to_parameters"):
        vector_to_parameters(rv.zeros(3), lin.parameters())
