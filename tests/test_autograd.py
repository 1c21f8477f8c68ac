"""The autograd engine: accumulation, graphs, hooks, grad modes, in-place checks, deep chains."""
import numpy as np
import pytest

import ranvier as rv
from helpers import assert_close


def test_grad_accumulates_over_backward_calls():
    x = rv.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * x).sum().backward()
    (x * 3.0).sum().backward()
    assert_close(x.grad, np.array([2 + 3, 4 + 3, 6 + 3], dtype=np.float32))


def test_leaf_and_grad_fn():
    x = rv.tensor([1.0], requires_grad=True)
    y = x * 2
    assert x.is_leaf and x.grad_fn is None
    assert not y.is_leaf and y.grad_fn.name() == "MulBackward0"
    nxt = y.grad_fn.next_functions
    assert nxt[0][0].name() == "AccumulateGrad" and nxt[0][0].variable is not None


def test_second_backward_through_freed_graph_raises():
    x = rv.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


def test_retain_graph_allows_second_backward():
    x = rv.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    e = np.exp([1.0, 2.0])
    assert_close(x.grad, (2 * (e + e * np.array([1.0, 2.0]))).astype(np.float32), rtol=1e-5)


def test_backward_non_scalar_needs_gradient():
    x = rv.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="only for scalar outputs"):
        (x * 2).backward()
    (x * 2).backward(rv.tensor([1.0, 10.0]))
    assert_close(x.grad, np.array([2.0, 20.0], dtype=np.float32))


def test_backward_gradient_shape_mismatch():
    x = rv.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"mismatch in shape"):
        (x * 2).backward(rv.tensor([1.0, 2.0, 3.0]))


def test_backward_on_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        rv.tensor([1.0]).sum().backward()


def test_create_graph_second_derivative():
    # f(x) = x^3 -> f'' = 6x
    x = rv.tensor([0.5, -1.5, 2.0], dtype=rv.float64, requires_grad=True)
    y = (x * x * x).sum()
    (g,) = rv.autograd.grad(y, x, create_graph=True)
    assert_close(g, 3 * np.array([0.5, -1.5, 2.0]) ** 2)
    (h,) = rv.autograd.grad(g.sum(), x)
    assert_close(h, 6 * np.array([0.5, -1.5, 2.0]))


def test_autograd_grad_does_not_touch_dot_grad():
    x = rv.tensor([1.0, 2.0], requires_grad=True)
    w = rv.tensor([3.0, 4.0], requires_grad=True)
    (gx,) = rv.autograd.grad((x * w).sum(), [x])
    assert_close(gx, np.array([3.0, 4.0], dtype=np.float32))
    assert x.grad is None and w.grad is None


def test_autograd_grad_allow_unused():
    x = rv.tensor([1.0], requires_grad=True)
    z = rv.tensor([1.0], requires_grad=True)
    y = (x * 2).sum()
    with pytest.raises(RuntimeError, match="allow_unused"):
        rv.autograd.grad(y, [x, z], retain_graph=True)
    gx, gz = rv.autograd.grad(y, [x, z], allow_unused=True)
    assert gz is None
    assert_close(gx, np.array([2.0], dtype=np.float32))


def test_autograd_grad_of_intermediate():
    x = rv.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    y = (h * h).sum()
    (gh,) = rv.autograd.grad(y, h)
    assert_close(gh, np.array([6.0, 12.0], dtype=np.float32))


def test_backward_inputs_restricts_accumulation():
    x = rv.tensor([1.0], requires_grad=True)
    w = rv.tensor([2.0], requires_grad=True)
    (x * w).sum().backward(inputs=[w])
    assert x.grad is None
    assert_close(w.grad, np.array([1.0], dtype=np.float32))


def test_no_grad_and_enable_grad():
    x = rv.tensor([1.0], requires_grad=True)
    with rv.no_grad():
        y = x * 2
        with rv.enable_grad():
            z = x * 2
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad

    @rv.no_grad()
    def f(t):
        return t * 2

    assert not f(x).requires_grad
    assert rv.is_grad_enabled()


def test_set_grad_enabled_and_inference_mode():
    x = rv.tensor([1.0], requires_grad=True)
    with rv.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert rv.is_grad_enabled()
    rv.set_grad_enabled(False)
    assert not rv.is_grad_enabled()
    rv.set_grad_enabled(True)
    with rv.inference_mode():
        assert not (x * 2).requires_grad
    assert (x * 2).requires_grad


def test_detach_shares_memory_and_cuts_history():
    x = rv.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    d = y.detach()
    assert not d.requires_grad and d.data_ptr() == y.data_ptr()


def test_requires_grad_only_for_floating_point():
    with pytest.raises(RuntimeError, match="floating point"):
        rv.tensor([1, 2]).requires_grad_()


def test_register_hook_changes_gradient():
    x = rv.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    h = x.register_hook(lambda g: seen.append(g.numpy().copy()) or g * 10)
    (x * 2).sum().backward()
    assert_close(x.grad, np.array([20.0, 20.0], dtype=np.float32))
    np.testing.assert_allclose(seen[0], [2.0, 2.0])
    h.remove()
    x.grad = None
    (x * 2).sum().backward()
    assert_close(x.grad, np.array([2.0, 2.0], dtype=np.float32))


def test_hook_on_intermediate_and_retain_grad():
    x = rv.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    h.retain_grad()
    h.register_hook(lambda g: g * 2)
    (h * h).sum().backward()
    # dL/dh = 2h = [6, 12]; the hook doubles what flows on to x
    assert_close(h.grad, np.array([6.0, 12.0], dtype=np.float32))
    assert_close(x.grad, np.array([36.0, 72.0], dtype=np.float32))


def test_long_chain_does_not_overflow_the_stack():
    x = rv.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    y.sum().backward()
    assert_close(x.grad, np.array([1.0], dtype=np.float32))
    del y  # freeing the 100,000-node graph must not recurse either


def test_saved_tensor_modified_in_place_raises():
    x = rv.tensor([1.0, 2.0], requires_grad=True)
    y = x * 1
    z = (y * y).sum()
    y.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.backward()


def test_in_place_on_leaf_requiring_grad_raises():
    x = rv.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        x.add_(1)
    with rv.no_grad():
        x.add_(1)  # allowed without grad recording (optimizer updates)
    assert_close(x.detach(), np.array([2.0], dtype=np.float32))


def test_in_place_on_non_leaf_has_correct_gradient():
    x = rv.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.mul_(x * 3)  # y = 6x^2 -> dy/dx = 12x
    y.add_(y)      # y = 12x^2 -> dy/dx = 24x
    y.sum().backward()
    assert_close(x.grad, np.array([24.0, 48.0], dtype=np.float32))


def test_in_place_reusing_a_saved_self_raises_like_pytorch():
    x = rv.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.mul_(y)  # mul saves its other operand, y itself, which the write then changes
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_in_place_write_through_view_reaches_base_history():
    a = rv.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    w = rv.tensor([5.0, 6.0], requires_grad=True)
    base = a * 1
    view = base.as_strided((2,), (1,), 1)  # elements 1 and 2
    view.copy_(w * 2)
    (base * rv.tensor([1.0, 10.0, 100.0, 1000.0])).sum().backward()
    assert_close(a.grad, np.array([1.0, 0.0, 0.0, 1000.0], dtype=np.float32))
    assert_close(w.grad, np.array([20.0, 200.0], dtype=np.float32))


def test_in_place_copy_into_plain_tensor_makes_it_require_grad():
    w = rv.tensor([5.0], requires_grad=True)
    x = rv.zeros(3)
    view = x.as_strided((1,), (1,), 2)
    view.copy_(w * 3)
    assert x.requires_grad and not x.is_leaf
    x.sum().backward()
    assert_close(w.grad, np.array([3.0], dtype=np.float32))


def test_grad_assignment_checks():
    x = rv.zeros(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="different size"):
        x.grad = rv.zeros(3)
    with pytest.raises(TypeError, match="different type"):
        x.grad = rv.zeros(2, dtype=rv.float64)
    x.grad = rv.ones(2)
    assert_close(x.grad, np.ones(2, dtype=np.float32))


def test_broadcast_gradient_is_reduced():
    a = rv.tensor([[1.0], [2.0]], requires_grad=True)  # (2, 1)
    b = rv.tensor([1.0, 2.0, 3.0], requires_grad=True)  # (3,)
    (a * b).sum().backward()
    assert_close(a.grad, np.array([[6.0], [6.0]], dtype=np.float32))
    assert_close(b.grad, np.array([3.0, 3.0, 3.0], dtype=np.float32))


def test_gradcheck_and_gradgradcheck_detect_wrong_gradients():
    x = rv.tensor([0.3, -0.7], dtype=rv.float64, requires_grad=True)
    assert rv.autograd.gradcheck(lambda t: (t * t * t).sum(), (x,))
    assert rv.autograd.gradgradcheck(lambda t: (t * t * t).sum(), (x,))
    # a function whose backward is wrong: detach one factor
    assert not rv.autograd.gradcheck(lambda t: t * t.detach(), (x,), raise_exception=False)


def test_stored_grad_never_shares_memory_the_caller_can_see():
    # The first gradient stored in .grad takes over the incoming gradient's memory only when
    # nothing else can reach it (accumulate_grad.cpp); a caller's tensor, or a view of it, is
    # copied.
    w = rv.randn(2, 3, requires_grad=True)
    g = rv.randn(2, 3)
    keep = g.numpy().copy()
    w.t().t().backward(g)  # the gradient arrives as a contiguous view of g
    g.add_(100.0)
    assert_close(w.grad, keep)
    v = rv.randn(4, requires_grad=True)
    h = rv.ones(4)
    v.backward(h)  # the caller's own tensor
    h.mul_(5.0)
    assert_close(v.grad, np.ones(4, np.float32))


def test_linear_weight_grad_is_its_own_contiguous_tensor():
    # A Linear weight's gradient comes back as the transpose of a transposed product: stored
    # without a copy, it must still be a plain contiguous tensor with the right values, and
    # later accumulation must not disturb anything else.
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 4)).astype(np.float32)
    wn = rng.standard_normal((3, 4)).astype(np.float32)
    g = rng.standard_normal((5, 3)).astype(np.float32)
    w = rv.tensor(wn, requires_grad=True)
    out = rv.nn.functional.linear(rv.tensor(x), w)
    out.backward(rv.tensor(g))
    assert w.grad.is_contiguous() and w.grad.shape == (3, 4) and w.grad.stride() == (4, 1)
    assert_close(w.grad, g.T @ x, rtol=1e-5, atol=1e-5)
    first = w.grad.numpy().copy()
    rv.nn.functional.linear(rv.tensor(x), w).backward(rv.tensor(g))
    assert_close(w.grad, 2 * first, rtol=1e-5, atol=1e-5)
