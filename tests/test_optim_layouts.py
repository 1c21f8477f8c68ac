"""The fused optimizer kernels on arbitrary shapes (hypothesis), non-contiguous gradients and
state buffers, and named parameters: results against the NumPy references."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import ranvier
from ranvier import _C, optim
from helpers import from_np, noncontiguous, shapes, to_np
import optim_reference as ref


@given(st.lists(shapes(0, 3, 0, 5), min_size=1, max_size=4),
       st.sampled_from([np.float32, np.float64]), st.integers(0, 2 ** 16))
def test_random_shapes_adam_and_sgd(shape_list, dtype, seed):
    rng = np.random.default_rng(seed)
    values = [rng.standard_normal(s).astype(dtype) for s in shape_list]
    grads = [[rng.standard_normal(s).astype(dtype) for s in shape_list] for _ in range(3)]
    for cls, ref_cls, kw in [(optim.Adam, ref.RefAdam, dict(lr=0.1, amsgrad=True)),
                             (optim.SGD, ref.RefSGD, dict(lr=0.1, momentum=0.9, nesterov=True))]:
        params = [from_np(v, requires_grad=True) for v in values]
        opt = cls(params, **kw)
        r = ref_cls(**kw)
        want = [np.array(v, copy=True) for v in values]
        for gs in grads:
            for p, g in zip(params, gs):
                p.grad = from_np(g)
            opt.step()
            r.step(want, gs)
        tol = 1e-12 if dtype == np.float64 else 1e-5
        for p, w in zip(params, want):
            np.testing.assert_allclose(to_np(p), w, rtol=tol, atol=tol)


def test_noncontiguous_grad():
    rng = np.random.default_rng(1)
    v, g = rng.standard_normal((4, 6)), rng.standard_normal((4, 6))
    p = from_np(v, requires_grad=True)
    p.grad = noncontiguous(from_np(g))
    assert not p.grad.is_contiguous()
    optim.RMSprop([p], lr=0.1, centered=True).step()
    want = [v.copy()]
    ref.RefRMSprop(lr=0.1, centered=True).step(want, [g])
    np.testing.assert_allclose(to_np(p), want[0], rtol=1e-12)


def test_noncontiguous_state_buffers_are_written_back():
    rng = np.random.default_rng(2)
    v, g = rng.standard_normal((3, 5)), rng.standard_normal((3, 5))
    m0, s0 = rng.standard_normal((3, 5)), rng.uniform(0.1, 1.0, (3, 5))
    p = noncontiguous(from_np(v))
    m, s = noncontiguous(from_np(m0)), noncontiguous(from_np(s0))
    step = ranvier.tensor(3.0)
    _C._optim_adam_([p], [from_np(g)], [m], [s], [], [step], 0.01, 0.9, 0.99, 1e-8, 0.0, False,
                    False, False)
    r = ref.RefAdam(lr=0.01, betas=(0.9, 0.99))
    r.m[0], r.v[0], r.t[0] = m0.copy(), s0.copy(), 3
    want = [v.copy()]
    r.step(want, [g])
    assert float(step) == 4.0
    np.testing.assert_allclose(to_np(m), r.m[0], rtol=1e-12)
    np.testing.assert_allclose(to_np(s), r.v[0], rtol=1e-12)
    np.testing.assert_allclose(to_np(p), want[0], rtol=1e-12)


def test_named_parameters():
    from ranvier import nn
    model = nn.Linear(3, 2)
    opt = optim.SGD(model.named_parameters(), lr=0.1)
    assert opt.param_groups[0]["param_names"] == ["weight", "bias"]
    assert opt.param_groups[0]["params"][0] is model.weight
    sd = opt.state_dict()
    assert sd["param_groups"][0]["param_names"] == ["weight", "bias"]
    assert sd["param_groups"][0]["params"] == [0, 1]
    with pytest.raises(ValueError, match="all optimizer params should be given with names"):
        optim.SGD([("w", model.weight), model.bias], lr=0.1)
