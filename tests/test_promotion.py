"""Type promotion of elementwise ops, checked against a table written from PyTorch's
documented rules: dimensioned tensors promote along the lattice; 0-d tensors and Python
numbers take part only when their category (bool < integer < floating) is higher than the
dimensioned operands'; a float number against an integer tensor gives the default float32;
float16 + bfloat16 gives float32; true division of integers gives float32."""
import numpy as np
import pytest

import ranvier
from helpers import assert_close
from test_elementwise_unary import from_np

R = ranvier
DTYPES = [R.float32, R.float64, R.float16, R.bfloat16, R.int64, R.int32, R.uint8, R.bool]


def dim(dt):
    return R.ones(2, dtype=dt)


def zero_d(dt):
    return R.ones((), dtype=dt)


# (left, right, expected); "d:" = dimensioned tensor, "0:" = 0-d tensor, a Python value = number
TABLE = [
    # dimensioned tensors: the lattice
    ("d:int32", "d:int64", R.int64),
    ("d:uint8", "d:int32", R.int32),
    ("d:uint8", "d:bool", R.uint8),
    ("d:bool", "d:bool", R.bool),
    ("d:float16", "d:float32", R.float32),
    ("d:bfloat16", "d:float16", R.float32),
    ("d:int64", "d:float16", R.float16),
    ("d:int32", "d:bfloat16", R.bfloat16),
    ("d:uint8", "d:float16", R.float16),
    ("d:float32", "d:float64", R.float64),
    ("d:bool", "d:float64", R.float64),
    # 0-d tensors count only by a higher category
    ("d:int32", "0:int64", R.int32),
    ("d:uint8", "0:int64", R.uint8),
    ("d:int32", "0:float64", R.float64),
    ("d:float16", "0:float64", R.float16),
    ("d:bfloat16", "0:float32", R.bfloat16),
    ("d:bool", "0:int64", R.int64),
    ("d:bool", "0:uint8", R.uint8),
    ("d:bool", "0:float64", R.float64),
    ("d:int64", "0:bool", R.int64),
    ("d:float32", "0:int64", R.float32),
    ("d:float32", "0:float64", R.float32),
    # Python numbers: default dtypes int64 / float32 when their category is higher
    ("d:int64", 2.5, R.float32),
    ("d:int32", 2, R.int32),
    ("d:uint8", 7, R.uint8),
    ("d:uint8", True, R.uint8),
    ("d:bool", 1, R.int64),
    ("d:bool", 2.5, R.float32),
    ("d:bool", True, R.bool),
    ("d:float16", 2.5, R.float16),
    ("d:bfloat16", 2, R.bfloat16),
    ("d:float64", 2.5, R.float64),
    ("d:int32", True, R.int32),
    # 0-d tensors with each other and with numbers
    ("0:int32", 2.5, R.float32),
    ("0:int32", 2, R.int32),
    ("0:float16", 2.5, R.float16),
    ("0:bool", 1.5, R.float32),
    ("0:bool", 3, R.int64),
    ("0:uint8", "0:int32", R.int32),
    ("0:float16", "0:int64", R.float16),
    ("0:int32", "0:float64", R.float64),
    ("0:bfloat16", "0:float16", R.float32),
    # numbers alone
    (2, 2.5, R.float32),
    (2, 3, R.int64),
    (True, False, R.bool),
]


def _operand(spec):
    if isinstance(spec, str):
        kind, name = spec.split(":")
        return (dim if kind == "d" else zero_d)(getattr(R, name))
    return spec


@pytest.mark.parametrize("left,right,expected", TABLE)
def test_result_type_table(left, right, expected):
    a, b = _operand(left), _operand(right)
    assert R.result_type(a, b) == expected
    assert R.result_type(b, a) == expected
    if isinstance(a, R.Tensor) or isinstance(b, R.Tensor):
        expected_add = expected
        if expected == R.bool:
            # bool + bool is logical or; * is logical and
            assert (a * b).dtype == R.bool
        else:
            assert (a + b).dtype == expected_add
            assert (b + a).dtype == expected_add
            assert (a * b).dtype == expected
            assert R.maximum(*[x if isinstance(x, R.Tensor) else R.tensor(x) for x in (a, b)]).dtype \
                is not None


@pytest.mark.parametrize("left,right,expected", [t for t in TABLE if isinstance(t[0], str) or isinstance(t[1], str)])
def test_true_division_result(left, right, expected):
    a, b = _operand(left), _operand(right)
    out = a / b if isinstance(a, R.Tensor) else b.__rtruediv__(a)
    assert out.dtype == (expected if expected.is_floating_point else R.float32)


def test_promote_types_lattice_is_symmetric():
    for x in DTYPES:
        for y in DTYPES:
            assert R.promote_types(x, y) == R.promote_types(y, x)
        assert R.promote_types(x, x) == x


def test_can_cast():
    assert R.can_cast(R.int64, R.float32)
    assert R.can_cast(R.float64, R.float16)
    assert R.can_cast(R.bool, R.uint8)
    assert not R.can_cast(R.float32, R.int64)
    assert not R.can_cast(R.int32, R.bool)


def test_integer_division_and_float_ops_give_float32():
    i = from_np(np.array([1, 2, 3]))
    for out in (i / i, i / 2, 3 / i, R.true_divide(i, 2), R.atan2(i, i), R.sqrt(i), R.exp(i)):
        assert out.dtype == R.float32
    assert (i // 2).dtype == R.int64
    assert (i % 2).dtype == R.int64
    assert (from_np(np.array([1, 2], dtype=np.uint8)) / 2).dtype == R.float32
    assert (R.ones(3, dtype=R.float16) / i).dtype == R.float16


def test_values_follow_the_promoted_dtype():
    # uint8 arithmetic wraps in uint8 even against an int64 0-d tensor or a number
    u = from_np(np.array([200, 10], dtype=np.uint8))
    assert_close(u + R.tensor(100), np.array([44, 110], dtype=np.uint8))
    assert_close(u - 3, np.array([197, 7], dtype=np.uint8))
    # comparisons with a float number compare as floats
    i = from_np(np.array([2, 3]))
    assert_close(i < 2.5, np.array([True, False]))
    assert_close(i == 2.0, np.array([True, False]))
    # int tensor times a float number is computed in float32
    assert_close(i * 2.5, np.array([5.0, 7.5], dtype=np.float32))
    # float16 * number: computed in float32, rounded once to float16
    x = np.linspace(-3, 3, 41).astype(np.float16)
    expected = (x.astype(np.float32) * np.float32(0.1)).astype(np.float16)
    assert_close(from_np(x) * 0.1, expected)
    # mixed float16 / bfloat16 tensors give float32
    h = from_np(np.array([1.5], dtype=np.float16))
    assert_close(h + R.tensor([1.25]).bfloat16(), np.array([2.75], dtype=np.float32))
    # int32 dim tensor with a large 0-d int64: the 0-d tensor is cast (wraps), result int32
    out = from_np(np.array([1], dtype=np.int32)) + R.tensor(2 ** 40 + 5)
    assert out.dtype == R.int32
    assert_close(out, np.array([6], dtype=np.int32))


def test_inplace_promotion_rules():
    f = R.ones(2)
    f += R.ones(2, dtype=R.float64)
    assert f.dtype == R.float32
    f += 1
    assert_close(f, np.array([3.0, 3.0], dtype=np.float32))
    i = R.ones(2, dtype=R.int32)
    i += R.ones(2, dtype=R.int64)
    assert i.dtype == R.int32
    i += True
    assert_close(i, np.array([3, 3], dtype=np.int32))
    h = R.ones(2, dtype=R.float16)
    h *= 2.5
    assert_close(h, np.array([2.5, 2.5], dtype=np.float16))
    for bad in (lambda: R.ones(2, dtype=R.int64).add_(0.5),
                lambda: R.ones(2, dtype=R.bool).add_(R.ones(2, dtype=R.uint8)),
                lambda: R.ones(2, dtype=R.uint8).mul_(R.ones(2)),
                lambda: R.ones(2, dtype=R.int32).div_(2)):
        with pytest.raises(RuntimeError, match="can't be cast to the desired output type"):
            bad()


def test_against_torch_result_type():
    torch = pytest.importorskip("torch")
    names = ["float32", "float64", "float16", "bfloat16", "int64", "int32", "uint8", "bool"]
    numbers = [True, 3, 2.5]
    forms = [("d", n) for n in names] + [("0", n) for n in names] + [("n", v) for v in numbers]

    def make(lib, form):
        kind, v = form
        if kind == "n":
            return v
        dt = getattr(lib, v)
        return lib.ones(2, dtype=dt) if kind == "d" else lib.ones((), dtype=dt)

    for fa in forms:
        for fb in forms:
            if fa[0] == "n" and fb[0] == "n":
                continue
            want = str(torch.result_type(make(torch, fa), make(torch, fb))).split(".")[-1]
            got = str(R.result_type(make(R, fa), make(R, fb))).split(".")[-1]
            assert got == want, (fa, fb)
