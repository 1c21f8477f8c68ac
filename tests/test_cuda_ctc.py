"""CUDA CTC kernels (skipped without a CUDA device): ctc_loss with log_probs on CUDA (targets
and lengths stay on the CPU, where the op reads them) against the same call on the CPU, per
sample (reduction='none': CUDA has no reductions yet), forward and the gradient of log_probs,
for float32 and float64, padded and concatenated targets, repeated labels, an input length of
0, and impossible alignments with and without zero_infinity."""
import numpy as np
import pytest

import ranvier
from helpers import from_np, to_np

_C = ranvier._C
F = ranvier.nn.functional
pytestmark = pytest.mark.skipif(not ranvier.cuda.is_available(), reason="no CUDA device")

DTYPES = [ranvier.float32, ranvier.float64]
TOL = {ranvier.float32: 2e-5, ranvier.float64: 1e-10}


def log_softmax_np(x):
    m = x.max(axis=-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))


def run(device, dtype, lp, targets, in_lens, tg_lens, zero_inf, blank=0):
    x = from_np(lp).to(dtype).to(device).requires_grad_(True)
    out = F.ctc_loss(x, from_np(targets), from_np(np.array(in_lens)), from_np(np.array(tg_lens)),
                     blank=blank, reduction="none", zero_infinity=zero_inf)
    g = np.random.default_rng(7).uniform(0.5, 1.5, size=tuple(out.shape))
    out.backward(from_np(g).to(dtype).to(device))
    return out, x.grad


CASES = [  # (T, N, C, padded, in_lens, tg_lens, zero_infinity, blank)
    (12, 3, 5, True, [12, 9, 7], [4, 3, 2], False, 0),
    (10, 2, 4, False, [10, 10], [3, 5], False, 3),
    (6, 3, 6, True, [6, 0, 2], [2, 0, 4], True, 0),    # length 0 and an impossible target
    (6, 2, 6, True, [2, 6], [4, 2], False, 0),          # impossible without zero_infinity: inf
    (40, 2, 7, True, [40, 33], [15, 12], False, 1),     # many extended positions
]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(map(str, c[:3])))
def test_ctc_matches_cpu(dtype, case):
    t, n, c, padded, in_lens, tg_lens, zero_inf, blank = case
    r = np.random.default_rng(t * 10 + n)
    lp = log_softmax_np(r.normal(size=(t, n, c)))
    width = max(tg_lens + [1])
    labels = [l for l in range(c) if l != blank]
    rows = [r.choice(labels, size=width) for _ in range(n)]
    rows[0][:2] = labels[0]  # a repeated label: no skip between the two
    targets = (np.stack(rows) if padded else
               np.concatenate([row[:k] for row, k in zip(rows, tg_lens)])).astype(np.int64)
    cuda = run("cuda", dtype, lp, targets, in_lens, tg_lens, zero_inf, blank)
    cpu = run("cpu", dtype, lp, targets, in_lens, tg_lens, zero_inf, blank)
    assert cuda[0].is_cuda and cuda[1].is_cuda
    for a, b in zip(cuda, cpu):
        np.testing.assert_allclose(to_np(a.detach().cpu()), to_np(b.detach()), rtol=TOL[dtype],
                                   atol=TOL[dtype])
