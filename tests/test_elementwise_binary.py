"""Binary and ternary elementwise ops and the Python operators: forward against NumPy over
broadcasting pairs, non-contiguous and zero-size inputs and every accepted dtype; gradients
against finite differences; in-place forms; and the errors PyTorch raises."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import ranvier
from helpers import assert_close, broadcastable_pair, gradcheck, noncontiguous, to_np
from test_elementwise_unary import from_np, gradgradcheck

INTS = [np.int64, np.int32, np.uint8]
FLOATS = [np.float32, np.float64]


def _rand(shape, dtype, rng, low=-3, high=3, nonzero=False):
    if dtype == np.bool_:
        return rng.integers(0, 2, size=shape).astype(np.bool_)
    if np.issubdtype(dtype, np.integer):
        lo = 0 if dtype == np.uint8 else int(low)
        x = rng.integers(lo, int(high) + 1, size=shape).astype(dtype)
        if nonzero:
            x = np.where(x == 0, 1, x).astype(dtype)
        return x
    x = rng.uniform(low, high, size=shape).astype(dtype)
    if nonzero:
        x = np.where(np.abs(x) < 0.2, 0.7, x).astype(dtype)
    return x


def _maybe_noncontig(t, flag):
    return noncontiguous(t) if flag and t.dim() > 0 else t


def _true_div(a, b):
    r = np.true_divide(a, b)
    return r.astype(np.float32) if not np.issubdtype(np.result_type(a, b), np.floating) else r


# name: (reference, dtypes, b must be nonzero, b range)
BINARY = {
    "add": (np.add, FLOATS + INTS, False),
    "sub": (np.subtract, FLOATS + INTS, False),
    "mul": (np.multiply, FLOATS + INTS + [np.bool_], False),
    "div": (_true_div, FLOATS + INTS, True),
    "true_divide": (_true_div, FLOATS + INTS, True),
    "floor_divide": (np.floor_divide, FLOATS + INTS, True),
    "remainder": (np.remainder, FLOATS + INTS, True),
    "fmod": (np.fmod, FLOATS + INTS, True),
    "minimum": (np.minimum, FLOATS + INTS + [np.bool_], False),
    "maximum": (np.maximum, FLOATS + INTS + [np.bool_], False),
    "atan2": (lambda a, b: np.arctan2(a, b) if np.issubdtype(a.dtype, np.floating)
              else np.arctan2(a.astype(np.float32), b.astype(np.float32)), FLOATS + INTS, False),
    "eq": (np.equal, FLOATS + INTS + [np.bool_], False),
    "ne": (np.not_equal, FLOATS + INTS + [np.bool_], False),
    "lt": (np.less, FLOATS + INTS + [np.bool_], False),
    "le": (np.less_equal, FLOATS + INTS + [np.bool_], False),
    "gt": (np.greater, FLOATS + INTS + [np.bool_], False),
    "ge": (np.greater_equal, FLOATS + INTS + [np.bool_], False),
    "logical_and": (np.logical_and, FLOATS + INTS + [np.bool_], False),
    "logical_or": (np.logical_or, FLOATS + INTS + [np.bool_], False),
    "logical_xor": (np.logical_xor, FLOATS + INTS + [np.bool_], False),
    "bitwise_and": (np.bitwise_and, INTS + [np.bool_], False),
    "bitwise_or": (np.bitwise_or, INTS + [np.bool_], False),
    "bitwise_xor": (np.bitwise_xor, INTS + [np.bool_], False),
}


@pytest.mark.parametrize("name", sorted(BINARY))
@given(pair=broadcastable_pair(), nc=st.tuples(st.booleans(), st.booleans()),
       seed=st.integers(0, 1000))
def test_binary_matches_numpy(name, pair, nc, seed):
    ref, dtypes, nonzero = BINARY[name]
    rng = np.random.default_rng(seed)
    for dt in dtypes:
        a = _rand(pair[0], dt, rng)
        b = _rand(pair[1], dt, rng, nonzero=nonzero)
        ta = _maybe_noncontig(from_np(a), nc[0])
        tb = _maybe_noncontig(from_np(b), nc[1])
        with np.errstate(all="ignore"):
            expected = np.asarray(ref(a, b))
        if expected.dtype == np.float64 and dt != np.float64:
            expected = expected.astype(np.float32)
        out = getattr(ranvier, name)(ta, tb)
        assert_close(out, expected, rtol=1e-5, atol=1e-6)
        assert_close(getattr(ta, name)(tb), expected, rtol=1e-5, atol=1e-6)


def test_pow_matches_numpy():
    rng = np.random.default_rng(0)
    for dt in FLOATS:
        a = rng.uniform(0.1, 3, (3, 4)).astype(dt)
        b = rng.uniform(-2, 2, (4,)).astype(dt)
        assert_close(ranvier.pow(from_np(a), from_np(b)), np.power(a, b), rtol=1e-5)
        assert_close(from_np(a) ** from_np(b), np.power(a, b), rtol=1e-5)
        assert_close(from_np(a) ** 2.5, np.power(a, dt(2.5)), rtol=1e-5)
        assert_close(from_np(a) ** 2, np.square(a), rtol=1e-6)
        assert_close(from_np(a) ** -1, 1 / a, rtol=1e-6)
        assert_close(2.0 ** from_np(b), np.power(dt(2.0), b), rtol=1e-5)
    for dt in INTS:
        a = rng.integers(0, 5, (3, 4)).astype(dt)
        b = rng.integers(0, 4, (3, 4)).astype(dt)
        assert_close(ranvier.pow(from_np(a), from_np(b)), np.power(a, b))
        assert_close(from_np(a) ** 3, np.power(a, 3).astype(dt))
    i = from_np(np.array([2, 3, -7, 1, -1]))
    # integer ** negative integer tensor: 1/a truncated; ** negative number raises
    assert_close(i ** from_np(np.array([-1, 2, -2, -3, -3])), np.array([0, 9, 0, 1, -1]))
    with pytest.raises(RuntimeError, match="Integers to negative integer powers are not allowed"):
        i ** -1
    with pytest.raises(RuntimeError, match="Integers to negative integer powers are not allowed"):
        i.pow_(-2)
    assert_close(2 ** from_np(np.array([1, 2, 3])), np.array([2, 4, 8]))
    out = 2.5 ** from_np(np.array([1, 2]))
    assert out.dtype == ranvier.float32
    assert_close(out, np.array([2.5, 6.25], dtype=np.float32))
    assert_close(ranvier.pow(2, from_np(np.array([1.0, 3.0]))), np.array([2.0, 8.0]))
    out = from_np(np.array([1, 4])) ** 0.5
    assert out.dtype == ranvier.float32
    assert_close(out, np.array([1.0, 2.0], dtype=np.float32))
    b = from_np(np.array([True, False]))
    assert_close(b ** 2, np.array([1, 0]))
    with pytest.raises(NotImplementedError, match="pow.*Bool"):
        b ** b


def test_div_rounding_modes():
    rng = np.random.default_rng(1)
    a = rng.uniform(-5, 5, (4, 3))
    b = rng.uniform(0.5, 2, (3,)) * np.array([1, -1, 1])
    ta, tb = from_np(a), from_np(b)
    assert_close(ranvier.div(ta, tb, rounding_mode="trunc"), np.trunc(a / b))
    assert_close(ranvier.div(ta, tb, rounding_mode="floor"), np.floor_divide(a, b))
    assert_close(ta.div(tb, rounding_mode=None), a / b)
    assert_close(ranvier.divide(ta, 2.0, rounding_mode="floor"), np.floor_divide(a, 2.0))
    ia = np.array([-7, 7, -7, 7, 5])
    ib = np.array([2, 2, -2, -2, -1])
    assert_close(ranvier.div(from_np(ia), from_np(ib), rounding_mode="trunc"),
                 np.array([-3, 3, 3, -3, -5]))
    assert_close(ranvier.div(from_np(ia), from_np(ib), rounding_mode="floor"), ia // ib)
    assert_close(from_np(ia) // from_np(ib), ia // ib)
    assert_close(from_np(ia) % from_np(ib), ia % ib)
    assert_close(ranvier.fmod(from_np(ia), from_np(ib)), np.fmod(ia, ib))
    with pytest.raises(RuntimeError, match="rounding_mode"):
        ranvier.div(ta, tb, rounding_mode="round")
    with pytest.raises(TypeError, match="rounding_mode"):
        ranvier.div(ta, tb, rounding_mode=3)


def test_integer_division_by_zero_raises():
    a = from_np(np.array([1, 2, 3]))
    z = from_np(np.array([1, 0, 1]))
    for fn in (lambda: a // z, lambda: a % z, lambda: ranvier.fmod(a, z),
               lambda: ranvier.div(a, z, rounding_mode="trunc"),
               lambda: ranvier.div(a, 0, rounding_mode="floor"), lambda: a // 0,
               lambda: a.clone().remainder_(z), lambda: ranvier.remainder(5, a - 1)):
        with pytest.raises(RuntimeError, match="ZeroDivisionError"):
            fn()
    # true division by zero is fine
    assert_close(a / 0, np.array([np.inf, np.inf, np.inf], dtype=np.float32))
    assert_close(from_np(np.array([1.0, -1.0])) // 0.0, np.array([np.inf, -np.inf]))


# ---- operators ----

OPERATORS = [
    ("+", np.add), ("-", np.subtract), ("*", np.multiply), ("/", np.true_divide),
    ("//", np.floor_divide), ("%", np.remainder), ("**", np.power),
]


@pytest.mark.parametrize("op,ref", OPERATORS, ids=[o for o, _ in OPERATORS])
@given(pair=broadcastable_pair(max_dims=3), nc=st.booleans())
def test_operators(op, ref, pair, nc):
    rng = np.random.default_rng(len(pair[0]) * 7 + len(pair[1]))
    a = rng.uniform(0.5, 3, pair[0])
    b = rng.uniform(0.5, 2, pair[1])
    ta, tb = _maybe_noncontig(from_np(a), nc), from_np(b)
    f = eval("lambda x, y: x %s y" % op)
    assert_close(f(ta, tb), ref(a, b), rtol=1e-10)
    assert_close(f(ta, 1.5), ref(a, 1.5), rtol=1e-10)
    assert_close(f(2.5, tb), ref(2.5, b), rtol=1e-10)
    # in place: a @= b where the result keeps a's shape
    if np.broadcast_shapes(a.shape, b.shape) == a.shape:
        t = from_np(a)
        v = t._version
        alias = t
        exec("t %s= tb" % op, {"tb": tb}, loc := {"t": t})
        assert loc["t"] is alias
        assert alias._version > v
        assert_close(alias, ref(a, b), rtol=1e-10)


def test_integer_operators_and_scalars():
    a = np.array([[5, -3, 7], [0, 2, -8]])
    t = from_np(a)
    assert_close(t + 2, a + 2)
    assert_close(2 - t, 2 - a)
    assert_close(3 * t, 3 * a)
    assert_close(t // 3, a // 3)
    assert_close(t % 3, a % 3)
    assert_close(17 // from_np(np.array([3, -4])), 17 // np.array([3, -4]))
    assert_close(17 % from_np(np.array([3, -4])), 17 % np.array([3, -4]))
    assert_close(t & 3, a & 3)
    assert_close(3 | t, 3 | a)
    assert_close(t ^ from_np(np.array([1, 2, 3])), a ^ np.array([1, 2, 3]))
    assert_close(~t, ~a)
    assert_close(-t, -a)
    assert_close(abs(t), np.abs(a))
    assert_close(+t, a)
    u = t.clone()
    u &= 6
    assert_close(u, a & 6)
    u |= 1
    assert_close(u, (a & 6) | 1)
    u ^= 3
    assert_close(u, ((a & 6) | 1) ^ 3)
    b = from_np(np.array([True, False, True]))
    c = from_np(np.array([True, True, False]))
    assert_close(b & c, np.array([True, False, False]))
    assert_close(b | c, np.array([True, True, True]))
    assert_close(b ^ c, np.array([False, True, True]))
    assert_close(b + c, np.array([True, True, True]))
    assert_close(b * c, np.array([True, False, False]))
    assert_close(b & True, np.array([True, False, True]))


def test_operator_type_errors():
    t = ranvier.tensor([1.0, 2.0])
    for bad in (None, "a", [1, 2], object()):
        for f in (lambda: t + bad, lambda: t - bad, lambda: t * bad, lambda: t / bad,
                  lambda: t // bad, lambda: t % bad, lambda: t ** bad, lambda: bad + t,
                  lambda: bad - t, lambda: bad * t):
            with pytest.raises(TypeError):
                f()
    for name in ("add", "sub", "mul", "div", "pow", "remainder", "minimum", "atan2", "eq"):
        with pytest.raises(TypeError):
            getattr(ranvier, name)(t, None)
        with pytest.raises(TypeError):
            getattr(ranvier, name)(t, "a")
    with pytest.raises(TypeError):
        ranvier.add(t, 1, alpha=None)
    with pytest.raises(TypeError):
        t.add_("a")
    with pytest.raises(TypeError):
        t += None


def test_bool_subtraction_and_bitwise_on_float_raise():
    b = from_np(np.array([True, False]))
    with pytest.raises(RuntimeError, match="two bool tensors"):
        b - b
    with pytest.raises(RuntimeError, match="two bool tensors"):
        b - True
    with pytest.raises(RuntimeError, match="with a bool tensor"):
        ranvier.sub(b, 1)
    f = ranvier.tensor([1.0, 2.0])
    for fn in (lambda: f & f, lambda: f | 1, lambda: ranvier.bitwise_xor(f, f)):
        with pytest.raises(NotImplementedError, match="not implemented for 'Float'"):
            fn()
    for name in ("floor_divide", "remainder", "fmod"):
        with pytest.raises(NotImplementedError, match="Bool"):
            getattr(ranvier, name)(b, b)


@pytest.mark.parametrize("name", ["add", "mul", "div", "pow", "atan2", "eq", "logical_and",
                                  "maximum", "remainder", "bitwise_and"])
def test_broadcast_error_names_op_and_shapes(name):
    a = ranvier.ones(2, 3, dtype=ranvier.int64)
    b = ranvier.ones(4, dtype=ranvier.int64)
    with pytest.raises(RuntimeError, match=r"%s.*\[2, 3\].*\[4\]" % name):
        getattr(ranvier, name)(a, b)


def test_inplace_errors():
    i = ranvier.tensor([1, 2, 3])
    with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired output type Long"):
        i.add_(1.5)
    with pytest.raises(RuntimeError, match="can't be cast"):
        i += ranvier.tensor([0.5, 0.5, 0.5])
    with pytest.raises(RuntimeError, match="can't be cast"):
        i /= 2
    with pytest.raises(RuntimeError, match="can't be cast"):
        i.mul_(ranvier.tensor([1.0, 2.0, 3.0]))
    with pytest.raises(RuntimeError, match="can't be cast"):
        ranvier.tensor([True]).add_(1)
    with pytest.raises(RuntimeError, match=r"output with shape \[3\] doesn't match the broadcast shape \[2, 3\]"):
        i.add_(ranvier.ones(2, 3, dtype=ranvier.int64))
    with pytest.raises(RuntimeError, match="alpha"):
        ranvier.add(i, i, alpha=0.5)
    x = ranvier.tensor([1.0, 2.0], requires_grad=True)
    for name in ("add_", "sub_", "mul_", "div_", "pow_", "remainder_", "atan2_", "lerp_"):
        args = (ranvier.tensor([1.0, 1.0]),) + ((0.5,) if name == "lerp_" else ())
        with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
            getattr(x, name)(*args)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        x += 1


def test_inplace_forms_match_and_bump_version():
    rng = np.random.default_rng(4)
    a = rng.uniform(0.5, 3, (3, 4))
    b = rng.uniform(0.5, 2, (4,))
    cases = {
        "add_": np.add(a, b), "sub_": a - b, "mul_": a * b, "div_": a / b,
        "true_divide_": a / b, "floor_divide_": np.floor_divide(a, b),
        "remainder_": np.remainder(a, b), "fmod_": np.fmod(a, b), "pow_": a ** b,
        "atan2_": np.arctan2(a, b), "subtract_": a - b, "multiply_": a * b,
    }
    for name, expected in cases.items():
        t = from_np(a)
        v = t._version
        r = getattr(t, name)(from_np(b))
        assert r is t
        assert t._version > v
        assert_close(t, expected, rtol=1e-10)
    t = from_np(a)
    t.add_(from_np(b), alpha=2)
    assert_close(t, a + 2 * b, rtol=1e-10)
    t = from_np(a)
    t.sub_(1.5, alpha=2)
    assert_close(t, a - 3.0, rtol=1e-10)
    t = from_np(a)
    t.div_(from_np(b), rounding_mode="trunc")
    assert_close(t, np.trunc(a / b))
    t = from_np(a)
    t.pow_(2)
    assert_close(t, a ** 2, rtol=1e-12)
    # comparison / logical / bitwise in-place write into self's dtype
    t = from_np(a)
    t.gt_(2.0)
    assert_close(t, (a > 2.0).astype(np.float64))
    u = from_np(np.array([3, 5, 6]))
    u.bitwise_and_(from_np(np.array([1, 4, 2])))
    assert_close(u, np.array([1, 4, 2]))
    w = from_np(np.array([True, False]))
    w.logical_or_(from_np(np.array([False, False])))
    assert_close(w, np.array([True, False]))
    # uint8 += int64 tensor stays uint8 (wraps)
    u8 = from_np(np.array([250, 3], dtype=np.uint8))
    u8 += from_np(np.array([10, 1]))
    assert_close(u8, np.array([4, 4], dtype=np.uint8))


def test_inplace_with_autograd():
    x = from_np(np.array([0.5, 1.5, 2.0]), requires_grad=True)
    w = from_np(np.array([2.0, 3.0, 4.0]), requires_grad=True)
    y = x * 1
    y.mul_(w)
    y.add_(w, alpha=2)
    y.pow_(2)
    y.sum().backward()
    xv, wv = np.array([0.5, 1.5, 2.0]), np.array([2.0, 3.0, 4.0])
    inner = xv * wv + 2 * wv
    assert_close(x.grad, 2 * inner * wv, rtol=1e-10)
    assert_close(w.grad, 2 * inner * (xv + 2), rtol=1e-10)


@pytest.mark.parametrize("shape", [(0,), (3, 0), (0, 1, 2)])
def test_zero_size(shape):
    a = ranvier.zeros(*shape)
    b = ranvier.ones(*shape[-1:]) if shape[-1:] else ranvier.ones(1)
    for name in sorted(BINARY):
        if name.startswith("bitwise"):
            out = getattr(ranvier, name)(a.long(), b.long())
        else:
            out = getattr(ranvier, name)(a, b)
        assert tuple(out.shape) == shape
    assert tuple((a ** b).shape) == shape
    assert tuple(ranvier.where(a > 0, a, b).shape) == shape
    a.add_(b)
    i = ranvier.zeros(*shape, dtype=ranvier.int64)
    assert tuple((i // i).shape) == shape  # no division by zero check fires on no elements


# ---- gradients ----

def _pos(shape, seed):
    return np.random.default_rng(seed).uniform(0.5, 2.0, shape)


def _any(shape, seed):
    return np.random.default_rng(seed).uniform(-2.0, 2.0, shape)


GRAD_CASES = {
    "add": (lambda a, b: ranvier.add(a, b, alpha=2.5), _any, _any),
    "sub": (lambda a, b: ranvier.sub(a, b, alpha=0.5), _any, _any),
    "mul": (ranvier.mul, _any, _any),
    "div": (ranvier.div, _any, _pos),
    "pow": (ranvier.pow, _pos, _any),
    "remainder": (ranvier.remainder, lambda s, k: _pos(s, k) * 3 + 0.1, _pos),
    "fmod": (ranvier.fmod, lambda s, k: _any(s, k) * 3, _pos),
    "minimum": (ranvier.minimum, _any, _any),
    "maximum": (ranvier.maximum, _any, _any),
    "atan2": (ranvier.atan2, _any, _pos),
    "rsub": (lambda a, b: 2.0 - a * b, _any, _any),
    "rdiv": (lambda a, b: 2.0 / b + a, _any, _pos),
    "rpow": (lambda a, b: 2.0 ** a * b, _any, _any),
    "pow_scalar": (lambda a, b: a ** 3 + b ** 0.5 + a ** -1.5 * 0, _pos, _pos),
}


@pytest.mark.parametrize("name", sorted(GRAD_CASES))
@pytest.mark.parametrize("shapes_", [((2, 3), (2, 3)), ((2, 3), (3,)), ((1, 3), (2, 1))])
def test_gradcheck(name, shapes_):
    fn, ga, gb = GRAD_CASES[name]
    a, b = ga(shapes_[0], 1), gb(shapes_[1], 2)
    assert gradcheck(fn, a, b)


@pytest.mark.parametrize("name", ["add", "mul", "div", "pow", "atan2", "maximum"])
def test_gradgradcheck(name):
    fn, ga, gb = GRAD_CASES[name]
    assert gradgradcheck(fn, ga((3,), 3), gb((2, 1), 4))


def test_rounding_and_comparison_grads():
    x = from_np(np.array([1.5, -2.5]), requires_grad=True)
    y = from_np(np.array([2.0, 3.0]), requires_grad=True)
    q = ranvier.div(x, y, rounding_mode="floor")
    assert q.requires_grad
    (q.sum() + (x * 0).sum()).backward()
    assert_close(x.grad, np.zeros(2))
    assert not ranvier.eq(x, y).requires_grad
    assert not ranvier.logical_and(x, y).requires_grad
    # ties in maximum split the gradient
    a = from_np(np.array([1.0, 2.0]), requires_grad=True)
    b = from_np(np.array([1.0, 3.0]), requires_grad=True)
    ranvier.maximum(a, b).sum().backward()
    assert_close(a.grad, np.array([0.5, 0.0]))
    assert_close(b.grad, np.array([0.5, 1.0]))
    # d/db of a ** b at a == 0 is 0, not nan
    a = from_np(np.array([0.0, 2.0]), requires_grad=True)
    b = from_np(np.array([2.0, 3.0]), requires_grad=True)
    (a ** b).sum().backward()
    assert_close(b.grad, np.array([0.0, 8.0 * np.log(2.0)]), rtol=1e-12)


# ---- ternary: where, lerp, addcmul, addcdiv ----

@given(pair=broadcastable_pair(max_dims=3), nc=st.booleans(), seed=st.integers(0, 100))
def test_where_matches_numpy(pair, nc, seed):
    rng = np.random.default_rng(seed)
    cond = rng.integers(0, 2, pair[0]).astype(np.bool_)
    for dt in FLOATS + INTS + [np.bool_, np.float16]:
        a = _rand(pair[1], dt, rng)
        b = _rand(pair[0], dt, rng)
        ta = _maybe_noncontig(from_np(a), nc)
        out = ranvier.where(from_np(cond), ta, from_np(b))
        assert_close(out, np.where(cond, a, b))
    assert_close(ranvier.where(from_np(cond), 1.0, 0), np.where(cond, 1.0, 0.0).astype(np.float32))
    assert_close(ranvier.where(from_np(cond), 1, 0), np.where(cond, 1, 0).astype(np.int64))


def test_where_promotion_and_errors():
    cond = from_np(np.array([True, False, True]))
    i = from_np(np.array([1, 2, 3]))
    f = from_np(np.array([0.5, 1.5, 2.5], dtype=np.float32))
    out = ranvier.where(cond, i, f)
    assert out.dtype == ranvier.float32
    assert_close(out, np.array([1.0, 1.5, 3.0], dtype=np.float32))
    out = ranvier.where(cond, i, 2.5)
    assert out.dtype == ranvier.float32
    assert_close(i.where(cond, 0), np.array([1, 0, 3]))
    assert_close(ranvier.where(cond.byte(), i, i * 0), np.array([1, 0, 3]))
    bf = ranvier.where(cond, f.bfloat16(), 0.0)
    assert bf.dtype == ranvier.bfloat16
    with pytest.raises(RuntimeError, match="where.*boolean.*Long"):
        ranvier.where(i, i, i)
    with pytest.raises(RuntimeError, match="broadcast"):
        ranvier.where(cond, i, ranvier.ones(2))
    with pytest.raises(TypeError):
        ranvier.where(cond, i, None)


def test_lerp():
    rng = np.random.default_rng(2)
    s = rng.uniform(-2, 2, (3, 4)).astype(np.float32)
    e = rng.uniform(-2, 2, (4,)).astype(np.float32)
    w = rng.uniform(-0.5, 1.5, (3, 1)).astype(np.float32)
    assert_close(ranvier.lerp(from_np(s), from_np(e), from_np(w)), s + w * (e - s), rtol=1e-5, atol=1e-6)
    assert_close(ranvier.lerp(from_np(s), from_np(e), 0.3), s + np.float32(0.3) * (e - s), rtol=1e-5, atol=1e-6)
    assert_close(noncontiguous(from_np(s)).lerp(from_np(e), 0.8), s + np.float32(0.8) * (e - s), rtol=1e-5, atol=1e-6)
    t = from_np(s)
    v = t._version
    assert t.lerp_(from_np(e), from_np(w)) is t
    assert t._version > v
    assert_close(t, s + w * (e - s), rtol=1e-5, atol=1e-6)
    h = ranvier.lerp(from_np(s).half(), from_np(e).half(), 0.5)
    assert h.dtype == ranvier.float16
    with pytest.raises(NotImplementedError, match="lerp.*Long"):
        ranvier.lerp(ranvier.tensor([1]), ranvier.tensor([2]), 0.5)
    with pytest.raises(RuntimeError, match="expected dtype float32 for `end`"):
        ranvier.lerp(from_np(s), from_np(e.astype(np.float64)), 0.5)
    with pytest.raises(RuntimeError, match="`weight`"):
        ranvier.lerp(from_np(s), from_np(e), from_np(w.astype(np.float64)))
    with pytest.raises(TypeError):
        ranvier.lerp(from_np(s), from_np(e), "x")


def test_addcmul_addcdiv():
    rng = np.random.default_rng(3)
    s = rng.uniform(-1, 1, (2, 3))
    a = rng.uniform(-1, 1, (3,))
    b = rng.uniform(0.5, 2, (2, 1))
    assert_close(ranvier.addcmul(from_np(s), from_np(a), from_np(b), value=0.5), s + 0.5 * a * b, rtol=1e-12)
    assert_close(ranvier.addcdiv(from_np(s), from_np(a), from_np(b), value=-2), s - 2 * a / b, rtol=1e-12)
    t = from_np(s)
    t.addcmul_(from_np(a), from_np(b), value=3)
    assert_close(t, s + 3 * a * b, rtol=1e-12)
    t = from_np(s)
    t.addcdiv_(from_np(a), from_np(b))
    assert_close(t, s + a / b, rtol=1e-12)
    assert_close(ranvier.addcmul(ranvier.tensor([1, 2]), ranvier.tensor([1, 2]),
                                 ranvier.tensor([1, 2]), value=2), np.array([3, 10]))
    with pytest.raises(RuntimeError, match="Integer division with addcdiv"):
        ranvier.addcdiv(ranvier.tensor([1, 2]), ranvier.tensor([1, 2]), ranvier.tensor([1, 2]))


def test_ternary_gradcheck():
    c = np.array([[True, False, True], [False, True, False]])
    cond = from_np(c)
    assert gradcheck(lambda a, b: ranvier.where(cond, a, b), _any((2, 3), 1), _any((3,), 2))
    assert gradgradcheck(lambda a, b: ranvier.where(cond, a * a, b * a), _any((2, 3), 1), _any((3,), 2))
    assert gradcheck(lambda s, e, w: ranvier.lerp(s, e, w), _any((2, 3), 1), _any((3,), 2),
                     np.random.default_rng(0).uniform(0, 1, (2, 1)))
    assert gradcheck(lambda s, e: ranvier.lerp(s, e, 0.7), _any((2, 3), 1), _any((3,), 2))
    assert gradcheck(lambda s, a, b: ranvier.addcmul(s, a, b, value=1.5), _any((2, 3), 1),
                     _any((3,), 2), _any((2, 1), 3))
    assert gradcheck(lambda s, a, b: ranvier.addcdiv(s, a, b, value=-0.5), _any((2, 3), 1),
                     _any((3,), 2), _pos((2, 1), 3))
    assert gradgradcheck(lambda s, e, w: ranvier.lerp(s, e, w), _any((3,), 1), _any((3,), 2),
                         np.array([0.2, 0.6, 0.9]))


@pytest.mark.parametrize("dtype", [ranvier.float16, ranvier.bfloat16])
@pytest.mark.parametrize("name", ["add", "sub", "mul", "div", "floor_divide", "remainder", "fmod",
                                  "pow", "minimum", "maximum", "atan2", "lt", "eq"])
def test_reduced_float_binary(dtype, name):
    """float16/bfloat16 compute in float32 and round once to the storage dtype."""
    rng = np.random.default_rng(6)
    a = from_np(rng.uniform(0.5, 3, (3, 4)).astype(np.float32)).to(dtype)
    b = from_np(rng.uniform(0.5, 2, (4,)).astype(np.float32)).to(dtype)
    out = getattr(ranvier, name)(a, b)
    af, bf = to_np(a).astype(np.float32), to_np(b).astype(np.float32)
    ref = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide,
           "floor_divide": np.floor_divide, "remainder": np.remainder, "fmod": np.fmod,
           "pow": np.power, "minimum": np.minimum, "maximum": np.maximum,
           "atan2": np.arctan2, "lt": np.less, "eq": np.equal}[name](af, bf)
    if ref.dtype == np.bool_:
        assert out.dtype == ranvier.bool
        assert_close(out, ref)
        return
    assert out.dtype == dtype
    # the float32 result rounded to dtype, compared in float32
    expected = to_np(from_np(ref).to(dtype)).astype(np.float32)
    np.testing.assert_array_equal(to_np(out).astype(np.float32), expected)
    # in place keeps the dtype
    if hasattr(a, name + "_"):
        c = a.clone()
        getattr(c, name + "_")(b)
        assert c.dtype == dtype
        np.testing.assert_array_equal(to_np(c).astype(np.float32), expected)


def test_mixed_dtype_regressions():
    """Cases where a narrower operand must not wrap before the promoted computation."""
    f = from_np(np.array([3.0, -2.0, 5.0], dtype=np.float32))
    u = from_np(np.array([2, 3, 252], dtype=np.uint8))
    assert_close(f - u, np.array([1.0, -5.0, -247.0], dtype=np.float32))
    assert_close(ranvier.sub(f, u, alpha=2), np.array([-1.0, -8.0, -499.0], dtype=np.float32))
    assert_close(ranvier.add(f, u, alpha=-1), np.array([1.0, -5.0, -247.0], dtype=np.float32))
    g = f.clone()
    g -= u
    assert_close(g, np.array([1.0, -5.0, -247.0], dtype=np.float32))
    i = from_np(np.array([3, 1], dtype=np.uint8))
    assert_close(-1 / i, np.array([-1 / 3, -1.0], dtype=np.float32))
    assert_close(ranvier.div(i, -2), np.array([-1.5, -0.5], dtype=np.float32))
    with pytest.raises(RuntimeError, match="with a bool tensor"):
        f - True
    with pytest.raises(RuntimeError, match="with a bool tensor"):
        True - f
    b = from_np(np.array([True, False]))
    assert_close(b ** True, np.array([True, False]))
    assert_close(b ** False, np.array([True, True]))
    with pytest.raises(NotImplementedError, match="clamp.*Bool"):
        ranvier.clamp(b, min=True)
    with pytest.raises(RuntimeError, match="can't be cast"):
        b.clone().square_()
