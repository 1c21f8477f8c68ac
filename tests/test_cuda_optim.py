"""CUDA optimizer steps against the CPU ones (skipped without a usable GPU): SGD (momentum,
dampening, nesterov, weight decay, maximize), Adam / AdamW (amsgrad), RMSprop (centered,
momentum), Adagrad, Adadelta, Adamax, NAdam (decoupled), RAdam (decoupled) on a group of
tensors of odd sizes, float32 and float64: after several steps the parameters are bitwise the
CPU's (the kernels round every operation as the CPU does)."""
import numpy as np
import pytest

import ranvier
from helpers import NP_DTYPES, from_np, rand_np

pytestmark = pytest.mark.skipif(not ranvier.cuda.is_available(), reason="no CUDA device")
O = ranvier.optim

CASES = [
    (O.SGD, dict(lr=0.1)),
    (O.SGD, dict(lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01)),
    (O.SGD, dict(lr=0.1, momentum=0.9, nesterov=True, maximize=True)),
    (O.Adam, dict(lr=0.01)),
    (O.Adam, dict(lr=0.01, amsgrad=True, weight_decay=0.1, maximize=True)),
    (O.AdamW, dict(lr=0.01, weight_decay=0.1)),
    (O.RMSprop, dict(lr=0.01)),
    (O.RMSprop, dict(lr=0.01, centered=True, momentum=0.9, weight_decay=0.01)),
    (O.Adagrad, dict(lr=0.1, lr_decay=0.01, weight_decay=0.01)),
    (O.Adadelta, dict(lr=1.0, weight_decay=0.01)),
    (O.Adamax, dict(lr=0.01, weight_decay=0.01)),
    (O.NAdam, dict(lr=0.01)),
    (O.NAdam, dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    (O.RAdam, dict(lr=0.01)),
    (O.RAdam, dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
]


def train(dev, cls, kw, dtype, arrays, grads, steps=7):
    params = [from_np(a).to(dtype).to(dev).requires_grad_(True) for a in arrays]
    opt = cls(params, **kw)
    for s in range(steps):
        opt.zero_grad()
        loss = sum((p * from_np(g * (1 + 0.1 * s)).to(dtype).to(dev)).sum()
                   for p, g in zip(params, grads))
        loss.backward()
        opt.step()
    return [np.array(p.detach().cpu().numpy(), copy=True) for p in params]


@pytest.mark.parametrize("dtype", [ranvier.float32, ranvier.float64], ids=str)
@pytest.mark.parametrize("case", range(len(CASES)))
def test_bitwise_like_cpu(case, dtype):
    cls, kw = CASES[case]
    rng = np.random.default_rng(case)
    shapes = [(3, 7), (1001,), (1,)]
    arrays = [rand_np(s, NP_DTYPES[dtype], rng=rng) for s in shapes]
    grads = [rand_np(s, NP_DTYPES[dtype], rng=rng) for s in shapes]
    cpu = train("cpu", cls, kw, dtype, arrays, grads)
    gpu = train("cuda", cls, kw, dtype, arrays, grads)
    for c, g in zip(cpu, gpu):
        np.testing.assert_array_equal(g, c)


def test_zero_size_parameter():
    p = ranvier.zeros(0, 3, device="cuda").requires_grad_(True)
    q = ranvier.ones(4, device="cuda").requires_grad_(True)
    opt = O.Adam([p, q], lr=0.1)
    ((q * 2).sum() + p.sum()).backward()
    opt.step()
    assert tuple(p.shape) == (0, 3)
    np.testing.assert_allclose(q.detach().cpu().numpy(), np.full(4, 0.9, np.float32), rtol=1e-6)
