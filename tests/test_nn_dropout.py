"""Dropout family: statistics of the masks, inverted scaling, channel masks, eval identity,
seeding, gradients and p validation."""
import numpy as np
import pytest

import ranvier as rv
import ranvier.nn as nn
import ranvier.nn.functional as F
from helpers import assert_close, to_np


def test_dropout_statistics_and_scaling():
    rv.manual_seed(0)
    x = rv.ones(200, 500)
    y = to_np(F.dropout(x, 0.3))
    kept = y != 0
    assert abs(kept.mean() - 0.7) < 0.01
    np.testing.assert_allclose(y[kept], 1 / 0.7, rtol=1e-6)
    assert abs(y.mean() - 1.0) < 0.02  # inverted scaling keeps the mean


def test_dropout_eval_and_p_edges():
    x = rv.randn(3, 4)
    assert F.dropout(x, 0.5, training=False) is x
    m = nn.Dropout(0.5)
    m.eval()
    assert m(x) is x
    assert_close(F.dropout(x, 0.0), to_np(x))
    assert_close(F.dropout(x, 1.0), np.zeros((3, 4), np.float32))
    assert tuple(F.dropout(rv.zeros(0, 2), 0.5).shape) == (0, 2)


def test_dropout_seeded_is_reproducible():
    x = rv.ones(50)
    rv.manual_seed(7)
    a = to_np(F.dropout(x))
    rv.manual_seed(7)
    b = to_np(F.dropout(x))
    np.testing.assert_array_equal(a, b)


def test_dropout_gradient_uses_the_same_mask():
    x = rv.ones(1000, requires_grad=True)
    y = F.dropout(x, 0.4)
    y.sum().backward()
    np.testing.assert_allclose(to_np(x.grad), to_np(y), rtol=1e-6)


def test_dropout_inplace():
    x = rv.ones(100)
    out = F.dropout(x, 0.5, inplace=True)
    assert out is x or out.data_ptr() == x.data_ptr()
    vals = set(np.unique(to_np(x)).tolist())
    assert vals <= {0.0, 2.0} and len(vals) == 2


@pytest.mark.parametrize("fn,shape", [(F.dropout1d, (8, 16, 10)), (F.dropout1d, (16, 10)),
                                      (F.dropout2d, (8, 16, 3, 4)), (F.dropout2d, (16, 3, 4)),
                                      (F.dropout3d, (4, 8, 2, 3, 2))])
def test_channel_dropout_zeroes_whole_channels(fn, shape):
    rv.manual_seed(1)
    y = to_np(fn(rv.ones(*shape), 0.5))
    batched = {F.dropout1d: 3, F.dropout2d: 4, F.dropout3d: 5}[fn]
    lead = 2 if len(shape) == batched else 1
    flat = y.reshape(int(np.prod(shape[:lead])), -1)
    per_channel = [set(np.unique(r).tolist()) for r in flat]
    assert all(s == {0.0} or s == {2.0} for s in per_channel)
    assert {0.0} in per_channel and {2.0} in per_channel


def test_channel_dropout_shape_errors():
    with pytest.raises(RuntimeError, match="dropout2d: Expected 3D or 4D input"):
        F.dropout2d(rv.ones(2, 3), 0.5)
    with pytest.raises(RuntimeError, match="dropout1d"):
        F.dropout1d(rv.ones(2, 3, 4, 5), 0.5)


def test_p_validation():
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match="between 0 and 1"):
            F.dropout(rv.ones(2), bad)
        with pytest.raises(ValueError, match="between 0 and 1"):
            nn.Dropout(bad)
        with pytest.raises(ValueError, match="between 0 and 1"):
            nn.Dropout2d(bad)


def test_alpha_dropout_keeps_mean_and_variance():
    rv.manual_seed(3)
    x = rv.randn(400, 500)
    y = to_np(F.alpha_dropout(x, 0.2, training=True))
    assert abs(y.mean()) < 0.02 and abs(y.std() - 1.0) < 0.03
    # dropped values all land on one value: a * alpha' + b
    a = ((1 - 0.2) * (1 + 0.2 * 1.7580993408473766 ** 2)) ** -0.5
    dropped = a * -1.7580993408473766 + a * 1.7580993408473766 * 0.2
    assert abs(np.isclose(y, dropped, atol=1e-5).mean() - 0.2) < 0.01
    assert F.alpha_dropout(x, 0.2) is x  # training defaults to False
    m = nn.AlphaDropout(0.2).eval()
    assert m(x) is x


def test_module_repr():
    assert repr(nn.Dropout()) == "Dropout(p=0.5, inplace=False)"
    assert repr(nn.Dropout2d(0.1, inplace=True)) == "Dropout2d(p=0.1, inplace=True)"
