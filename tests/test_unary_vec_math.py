"""The CPU's float32 exp, expm1, log, log1p, tanh, sigmoid, silu, logsigmoid, softplus, erf, sqrt
and rsqrt run on branch-free vectorised code (kernels/cpu/vec_math.h) instead of libm: checked
here against float64 NumPy references in ulp over wide ranges, and at the edges (inf, NaN, 0,
overflow, subnormal results) against libm's float32 answers."""
import math

import numpy as np
import pytest

import ranvier as rv
import ranvier.nn.functional as F

_erf64 = np.frompyfunc(math.erf, 1, 1)


def _sigmoid64(x):
    with np.errstate(over="ignore"):
        return np.where(x >= 0, 1 / (1 + np.exp(-x)), np.exp(x) / (1 + np.exp(x)))


def _softplus64(x):
    return np.where(x > 20, x, np.log1p(np.exp(np.minimum(x, 20))))


# name: (ranvier function, float64 reference, input domain)
CASES = {
    "exp": (lambda t: t.exp(), np.exp, "all"),
    "expm1": (lambda t: t.expm1(), np.expm1, "all"),
    "log": (lambda t: t.log(), np.log, "positive"),
    "log1p": (lambda t: t.log1p(), np.log1p, "above_minus_one"),
    "tanh": (lambda t: t.tanh(), np.tanh, "all"),
    "sigmoid": (lambda t: t.sigmoid(), _sigmoid64, "all"),
    "silu": (F.silu, lambda x: x * _sigmoid64(x), "all"),
    "logsigmoid": (F.logsigmoid, lambda x: -np.logaddexp(0, -x), "all"),
    "softplus": (F.softplus, _softplus64, "all"),
    "erf": (lambda t: t.erf(), lambda x: _erf64(x).astype(np.float64), "all"),
    "sqrt": (lambda t: t.sqrt(), np.sqrt, "positive"),
    "rsqrt": (lambda t: t.rsqrt(), lambda x: 1 / np.sqrt(x), "positive"),
}


def _inputs(domain):
    rng = np.random.default_rng(7)
    x = np.concatenate([
        rng.uniform(-1, 1, 20000), rng.uniform(-12, 12, 20000), rng.uniform(-110, 110, 20000),
        np.exp(rng.uniform(-100, 80, 20000)) * rng.choice([-1.0, 1.0], 20000),
        np.linspace(-0.7, 0.7, 2001),
    ]).astype(np.float32)
    if domain == "positive":
        x = np.abs(x)
        x = x[x > 0]
    elif domain == "above_minus_one":
        x = np.where(x <= -1, np.float32(-1) + np.abs(x) % np.float32(1) + np.float32(1e-6), x)
    return x.astype(np.float32)


def _ulps(got, ref):
    """|got - ref| in float32 ulps of ref; results under 2^-118 are measured in its ulps (4e-43:
    a product with a subnormal factor, like silu's x sigmoid(x) far below 0, keeps only a few
    bits there)."""
    ref32 = ref.astype(np.float32)
    unit = np.maximum(np.spacing(np.abs(ref32)).astype(np.float64), np.spacing(np.float32(2.0**-118)))
    return np.abs(got.astype(np.float64) - ref) / unit


@pytest.mark.parametrize("name", sorted(CASES))
def test_float32_within_a_few_ulp_of_float64(name):
    fn, ref_fn, domain = CASES[name]
    x = _inputs(domain)
    with np.errstate(all="ignore"):
        ref = np.asarray(ref_fn(x.astype(np.float64)), dtype=np.float64)
        ref32 = ref.astype(np.float32)
    got = fn(rv.tensor(x)).numpy()
    finite = np.isfinite(ref32)
    # overflow to inf exactly where float32 overflows
    np.testing.assert_array_equal(np.isinf(got), np.isinf(ref32), err_msg=name)
    err = _ulps(got[finite], ref[finite])
    assert err.max() <= 4.0, (name, float(err.max()), x[finite][np.argmax(err)])


def _libm32(fn, values):
    with np.errstate(all="ignore"):
        return np.array([fn(np.float32(v)) for v in values], dtype=np.float32)


EDGES = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, -1e-45, 1e-40, 88.72, 88.73, 89.0, -87.5,
         -100.0, -103.9, -104.0, -150.0, 1e30, -1e30, 0.5, -0.5, 0.625, 1.0, -1.0]


@pytest.mark.parametrize("name,np_fn", [
    ("exp", np.exp), ("expm1", np.expm1), ("log", np.log), ("log1p", np.log1p),
    ("tanh", np.tanh), ("sqrt", np.sqrt),
])
def test_edges_match_libm(name, np_fn):
    fn = CASES[name][0]
    x = np.array(EDGES, dtype=np.float32)
    got = fn(rv.tensor(x)).numpy()
    want = _libm32(np_fn, x)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=name)
    np.testing.assert_array_equal(np.signbit(got[want == 0]), np.signbit(want[want == 0]))
    np.testing.assert_allclose(got, want, rtol=4e-7, atol=1e-44, err_msg=name)


def test_edges_of_the_logistic_family():
    x = rv.tensor(np.array([np.inf, -np.inf, np.nan, -100.0, 100.0, -0.0], dtype=np.float32))
    s = x.sigmoid().numpy()
    assert s[0] == 1 and s[1] == 0 and np.isnan(s[2]) and s[4] == 1 and s[5] == 0.5
    # far below zero the result stays positive (e^-100 ~ 3.7e-44 is a float32 subnormal)
    assert 3.0e-44 < s[3] < 4.5e-44
    e = x.erf().numpy()
    assert e[0] == 1 and e[1] == -1 and np.isnan(e[2]) and e[3] == -1 and e[4] == 1
    assert np.signbit(e[5])
    ls = F.logsigmoid(x).numpy()
    assert ls[0] == 0 and ls[1] == -np.inf and np.isnan(ls[2]) and ls[3] == -100
    sp = F.softplus(x).numpy()
    assert sp[0] == np.inf and sp[1] == 0 and np.isnan(sp[2]) and sp[4] == 100
    assert 3.0e-44 < sp[3] < 4.5e-44


def test_strided_input_and_thread_count_give_the_same_bits():
    rng = np.random.default_rng(3)
    base = rng.uniform(-30, 30, (300, 257)).astype(np.float32)
    t = rv.tensor(base)
    old = rv.get_num_threads()
    try:
        for fn in (lambda v: v.exp(), lambda v: v.tanh(), F.silu, lambda v: v.erf()):
            rv.set_num_threads(1)
            one = fn(t).numpy()
            strided = fn(t.t()).numpy()
            rv.set_num_threads(2)
            two = fn(t).numpy()
            np.testing.assert_array_equal(one, two)
            np.testing.assert_array_equal(strided, one.T)
    finally:
        rv.set_num_threads(old)
