"""Matrix products against NumPy: matmul / @ (1-D rules, broadcast batch dims), mm, bmm,
addmm, mv, dot, outer; transposed, strided and expanded operands (BLAS transpose flags and
packing), zero-size dims, every dtype; gradcheck and gradgradcheck; the error messages."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import ranvier as rv
from helpers import assert_close, from_np, gradcheck, noncontiguous, rand_np

DTYPES = [np.float32, np.float64, np.int64, np.int32, np.uint8]
TOL = {np.float32: dict(rtol=1e-4, atol=1e-4), np.float64: dict(rtol=1e-10, atol=1e-10)}


def t_(a, layout="contig"):
    """A ranvier tensor with a's values and the requested memory layout."""
    t = from_np(a).reshape(a.shape)
    if layout == "strided":
        return noncontiguous(t)
    if layout == "transposed" and a.ndim >= 2:
        # stored transposed: the view's row stride is 1 (BLAS transpose flag)
        return from_np(np.ascontiguousarray(np.swapaxes(a, -1, -2))).transpose(-1, -2)
    return t


def check(out, exp, dt):
    if np.issubdtype(dt, np.integer):
        assert_close(out, exp.astype(dt))
    else:
        assert_close(out, exp.astype(dt), **TOL[dt])


def ints(shape, dt):
    return rand_np(shape, dt, low=0, high=3)


def values(shape, dt):
    return rand_np(shape, dt) if dt in (np.float32, np.float64) else ints(shape, dt)


@st.composite
def matmul_shapes(draw):
    m, k, n = (draw(st.integers(0, 4)) for _ in range(3))
    da, db = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    batch = draw(st.lists(st.integers(1, 3), min_size=2, max_size=2))
    ba = [b if draw(st.booleans()) else 1 for b in batch][4 - max(da, 2):] if da > 2 else []
    bb = [b if draw(st.booleans()) else 1 for b in batch][4 - max(db, 2):] if db > 2 else []
    sa = tuple(ba) + ((m, k) if da >= 2 else (k,))
    sb = tuple(bb) + ((k, n) if db >= 2 else (k,))
    return sa, sb


@given(matmul_shapes(), st.sampled_from(DTYPES),
       st.sampled_from(["contig", "strided", "transposed"]),
       st.sampled_from(["contig", "strided", "transposed"]))
def test_matmul_vs_numpy(shapes, dt, la, lb):
    sa, sb = shapes
    a, b = values(sa, dt), values(sb, dt)
    exp = np.matmul(a.astype(np.float64), b.astype(np.float64))
    check(rv.matmul(t_(a, la), t_(b, lb)), np.asarray(exp), dt)
    check(t_(a, la) @ t_(b, lb), np.asarray(exp), dt)


@given(st.integers(0, 5), st.integers(0, 5), st.integers(0, 5), st.sampled_from(DTYPES),
       st.sampled_from(["contig", "strided", "transposed"]),
       st.sampled_from(["contig", "strided", "transposed"]))
def test_mm(m, k, n, dt, la, lb):
    a, b = values((m, k), dt), values((k, n), dt)
    check(rv.mm(t_(a, la), t_(b, lb)), a.astype(np.float64) @ b, dt)
    check(t_(a, la).mm(t_(b, lb)), a.astype(np.float64) @ b, dt)


@given(st.integers(0, 4), st.integers(0, 4), st.integers(0, 4), st.integers(0, 4),
       st.sampled_from(DTYPES), st.sampled_from(["contig", "strided", "transposed"]))
def test_bmm(bs, m, k, n, dt, layout):
    a, b = values((bs, m, k), dt), values((bs, k, n), dt)
    check(rv.bmm(t_(a, layout), t_(b, layout)), np.matmul(a.astype(np.float64), b), dt)


def test_expanded_batch_operand():
    a = rand_np((3, 4), np.float32)
    b = rand_np((5, 4, 2), np.float32)
    ta = from_np(a).expand(5, 3, 4)  # batch stride 0
    assert_close(rv.bmm(ta, from_np(b)), np.matmul(a, b), rtol=1e-5, atol=1e-5)


def test_many_small_and_few_large_batches():
    rng = np.random.default_rng(1)
    for shape_a, shape_b in (((300, 5, 6), (300, 6, 7)), ((3, 90, 80), (3, 80, 70))):
        a = rng.standard_normal(shape_a).astype(np.float32)
        b = rng.standard_normal(shape_b).astype(np.float32)
        assert_close(from_np(a) @ from_np(b), np.matmul(a, b), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("dt", [rv.float16, rv.bfloat16])
def test_reduced_float_matmul(dt):
    a, b = rand_np((2, 3, 5), np.float32), rand_np((5, 4), np.float32)
    ta, tb = from_np(a).to(dt), from_np(b).to(dt)
    out = ta @ tb
    assert out.dtype == dt
    exp = np.matmul(ta.float().numpy().astype(np.float64), tb.float().numpy())
    np.testing.assert_allclose(out.float().numpy(), exp, rtol=2e-2, atol=2e-2)


@pytest.mark.parametrize("dt", [np.float32, np.float64, np.int64])
@pytest.mark.parametrize("in_shape", [(3, 4), (4,), (1, 4), (3, 1), ()])
@pytest.mark.parametrize("beta,alpha", [(1, 1), (0.5, 2), (0, 1), (2, 0)])
def test_addmm(dt, in_shape, beta, alpha):
    if np.issubdtype(dt, np.integer):
        beta, alpha = int(beta * 2), int(alpha)
    inp, m1, m2 = values(in_shape, dt), values((3, 5), dt), values((5, 4), dt)
    exp = beta * inp.astype(np.float64) + alpha * (m1.astype(np.float64) @ m2)
    check(rv.addmm(from_np(inp).reshape(in_shape), from_np(m1), from_np(m2), beta=beta,
                   alpha=alpha), exp, dt)


def test_addmm_beta_zero_ignores_nan_input():
    inp = rv.full((2, 2), float("nan"))
    out = rv.addmm(inp, rv.ones(2, 3), rv.ones(3, 2), beta=0)
    assert_close(out, np.full((2, 2), 3.0, dtype=np.float32))


def test_mv_dot_outer():
    a, v, w = rand_np((3, 4), np.float64), rand_np((4,), np.float64), rand_np((4,), np.float64)
    assert_close(rv.mv(from_np(a), from_np(v)), a @ v, rtol=1e-12)
    assert_close(from_np(a).mv(noncontiguous(from_np(v))), a @ v, rtol=1e-12)
    assert_close(rv.dot(from_np(v), from_np(w)), np.array(v @ w), rtol=1e-12)
    assert_close(from_np(v).dot(noncontiguous(from_np(w))), np.array(v @ w), rtol=1e-12)
    assert_close(rv.outer(from_np(v), from_np(w[:3])), np.outer(v, w[:3]), rtol=1e-12)
    i = ints((5,), np.int64)
    assert_close(rv.dot(from_np(i), from_np(i)), np.array(i @ i))


def test_zero_size_inner_dim_gives_zeros():
    assert_close(rv.ones(3, 0) @ rv.ones(0, 2), np.zeros((3, 2), np.float32))
    assert_close(rv.dot(rv.ones(0), rv.ones(0)), np.array(0.0, np.float32))
    assert_close(rv.ones(2, 3, 0, dtype=rv.int64) @ rv.ones(0, 4, dtype=rv.int64),
                 np.zeros((2, 3, 4), np.int64))
    assert_close(rv.addmm(rv.ones(3, 2), rv.ones(3, 0), rv.ones(0, 2), beta=2),
                 np.full((3, 2), 2.0, np.float32))
    assert tuple((rv.ones(0, 3) @ rv.ones(3, 2)).shape) == (0, 2)


def test_rmatmul():
    a, b = rv.ones(2, 3), rv.ones(3, 4)
    assert_close(b.__rmatmul__(a), np.full((2, 4), 3.0, np.float32))
    assert a.__matmul__(3) is NotImplemented


# ---- gradients ----

def gc(fn, *arrays):
    assert gradcheck(fn, *arrays)


def ggc(fn, *arrays):
    from test_reduce_grad import gradgradcheck
    assert gradgradcheck(fn, *arrays)


@pytest.mark.parametrize("sa,sb", [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 2)), ((2, 3), (3, 4)),
                                   ((2, 2, 3), (3, 2)), ((2, 1, 2, 3), (3, 3, 2)),
                                   ((3,), (2, 3, 2)), ((2, 2, 3), (3,)), ((1, 2, 3), (2, 3, 1))])
def test_matmul_grad(sa, sb):
    a, b = rand_np(sa, np.float64), rand_np(sb, np.float64)
    gc(rv.matmul, a, b)
    ggc(rv.matmul, a, b)


def test_mm_bmm_addmm_grads():
    a, b = rand_np((3, 4), np.float64), rand_np((4, 2), np.float64)
    gc(rv.mm, a, b)
    ggc(rv.mm, a, b)
    gc(lambda x, y: rv.mm(x.t(), y.t().t()), a.T.copy(), b)  # transposed operands
    p, q = rand_np((2, 3, 4), np.float64), rand_np((2, 4, 2), np.float64)
    gc(rv.bmm, p, q)
    ggc(rv.bmm, p, q)
    inp = rand_np((2,), np.float64)
    gc(lambda i, x, y: rv.addmm(i, x, y, beta=0.5, alpha=2.0), inp, a, b)
    ggc(lambda i, x, y: rv.addmm(i, x, y, beta=0.5, alpha=2.0), inp, a, b)
    v = rand_np((4,), np.float64)
    gc(rv.mv, a, v)
    gc(rv.dot, v, v + 1)
    gc(rv.outer, v, v[:3].copy())


# ---- errors ----

@pytest.mark.parametrize("call,exc,msg", [
    (lambda: rv.mm(rv.ones(2, 3), rv.ones(4, 5)), RuntimeError,
     r"mm: mat1 and mat2 shapes cannot be multiplied \(2x3 and 4x5\)"),
    (lambda: rv.ones(2, 3) @ rv.ones(4, 5), RuntimeError,
     r"mat1 and mat2 shapes cannot be multiplied \(2x3 and 4x5\)"),
    (lambda: rv.ones(2, 2, 3) @ rv.ones(2, 4, 5), RuntimeError,
     r"matmul: mat1 and mat2 shapes cannot be multiplied \(\[2, 2, 3\] and \[2, 4, 5\]\)"),
    (lambda: rv.ones(2, 2, 3) @ rv.ones(3, 3, 5), RuntimeError, r"matmul.*\[2\].*\[3\]"),
    (lambda: rv.matmul(rv.tensor(1.0), rv.ones(2)), RuntimeError,
     r"both arguments to matmul need to be at least 1D, but they are 0D and 1D"),
    (lambda: rv.mm(rv.ones(2, 2), rv.ones(2, 2, dtype=rv.float64)), RuntimeError,
     r"mm: expected m1 and m2 to have the same dtype, but got: float32 != float64"),
    (lambda: rv.ones(2, 2) @ rv.ones(2, 2, dtype=rv.int64), RuntimeError, r"same dtype"),
    (lambda: rv.mm(rv.ones(2), rv.ones(2, 2)), RuntimeError, r"mm: self must be a matrix"),
    (lambda: rv.bmm(rv.ones(2, 2), rv.ones(2, 2, 2)), RuntimeError, r"bmm: batch1 must be a 3D"),
    (lambda: rv.bmm(rv.ones(2, 2, 3), rv.ones(3, 3, 2)), RuntimeError,
     r"bmm: batch1 and batch2 shapes cannot be multiplied"),
    (lambda: rv.dot(rv.ones(3), rv.ones(4)), RuntimeError, r"dot: inconsistent tensor size"),
    (lambda: rv.dot(rv.ones(3, 1), rv.ones(3)), RuntimeError, r"dot: 1D tensors expected"),
    (lambda: rv.mv(rv.ones(2, 3), rv.ones(2)), RuntimeError, r"mv: size mismatch"),
    (lambda: rv.outer(rv.ones(2, 1), rv.ones(2)), RuntimeError, r"outer: 1D tensors expected"),
    (lambda: rv.addmm(rv.ones(3), rv.ones(2, 2), rv.ones(2, 2)), RuntimeError,
     r"addmm: .*\[3\].*cannot be broadcast"),
    (lambda: rv.addmm(rv.ones(1, 2, 2), rv.ones(2, 2), rv.ones(2, 2)), RuntimeError,
     r"addmm: the input of shape \[1, 2, 2\] cannot be broadcast"),
    (lambda: rv.addmm(rv.ones(2, dtype=rv.float64), rv.ones(2, 2), rv.ones(2, 2)), RuntimeError,
     r"addmm: expected input and mat1 to have the same dtype"),
    (lambda: rv.ones(2, 2, dtype=rv.bool) @ rv.ones(2, 2, dtype=rv.bool), NotImplementedError,
     r"matmul: not implemented for 'Bool'"),
])
def test_errors(call, exc, msg):
    with pytest.raises(exc, match=msg):
        call()
