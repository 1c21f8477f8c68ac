"""CUDA upsample kernels against the CPU ones (skipped without a usable GPU): interpolate in
every mode (nearest, nearest-exact, linear / bilinear / trilinear, bicubic, area, antialiased
bilinear / bicubic), align_corners, scale factors, up- and downsampling, forward and backward
(bitwise: the kernels add in the CPU's order, without fused multiply-adds), float32 and
float64."""
import numpy as np
import pytest

import ranvier
from helpers import NP_DTYPES, from_np, rand_np, host_np as host

pytestmark = pytest.mark.skipif(not ranvier.cuda.is_available(), reason="no CUDA device")
F = ranvier.nn.functional


def both(fn, a, dtype):
    res = []
    for dev in ("cpu", "cuda"):
        x = from_np(a).to(dtype).to(dev).requires_grad_(True)
        y = fn(x)
        assert y.device.type == dev
        gy = rand_np(tuple(y.shape), np.float64, rng=np.random.default_rng(2))
        y.backward(from_np(gy).to(dtype).to(dev))
        res.append((host(y), host(x.grad)))
    np.testing.assert_array_equal(res[1][0], res[0][0])
    np.testing.assert_array_equal(res[1][1], res[0][1])


CASES = [
    ((2, 3, 7), dict(size=15, mode="nearest")),
    ((2, 3, 7), dict(scale_factor=2.5, mode="linear")),
    ((2, 3, 7), dict(size=4, mode="linear", align_corners=True)),
    ((2, 2, 5, 6), dict(size=(11, 13), mode="bilinear")),
    ((2, 2, 5, 6), dict(size=(3, 4), mode="bilinear", antialias=True)),
    ((2, 2, 5, 6), dict(size=(12, 9), mode="bicubic", align_corners=True)),
    ((2, 2, 9, 8), dict(size=(4, 3), mode="bicubic", antialias=True)),
    ((2, 2, 9, 8), dict(size=(4, 3), mode="area")),
    ((2, 2, 5, 6), dict(scale_factor=2, mode="nearest-exact")),
    ((1, 2, 3, 4, 5), dict(size=(6, 7, 9), mode="trilinear")),
    ((1, 2, 3, 4, 5), dict(scale_factor=2, mode="nearest")),
]


@pytest.mark.parametrize("dtype", [ranvier.float32, ranvier.float64], ids=str)
@pytest.mark.parametrize("case", range(len(CASES)))
def test_interpolate(case, dtype):
    shape, kw = CASES[case]
    both(lambda x: F.interpolate(x, **kw), rand_np(shape, NP_DTYPES[dtype], rng=np.random.default_rng(case)), dtype)
