"""Backward functions may write their result over an incoming gradient that nothing else holds
(relu's backward does, saving a buffer and a pass): a gradient the user, a hook or retain_grad
can still see must never be changed that way. The engine likewise sums a second path's gradient
into the first one's memory when nothing else can see it. Values against NumPy."""
import numpy as np

import ranvier as rv
from helpers import from_np


def _x():
    return from_np(np.array([[-1.0, 2.0, -3.0], [4.0, -5.0, 6.0]], dtype=np.float32),
                   requires_grad=True)


def test_relu_backward_values_with_fresh_gradient():
    x = _x()
    (rv.relu(x * 2.0) * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), 6.0 * (x.detach().numpy() > 0))


def test_retained_gradient_is_not_overwritten():
    x = _x()
    y = rv.relu(x * 2.0)
    y.retain_grad()
    (y * 3.0).sum().backward()
    np.testing.assert_array_equal(y.grad.numpy(), np.full((2, 3), 3.0, dtype=np.float32))
    np.testing.assert_array_equal(x.grad.numpy(), 6.0 * (x.detach().numpy() > 0))


def test_hooked_gradient_is_not_overwritten():
    x = _x()
    h = x * 2.0
    seen = []
    h.register_hook(lambda g: seen.append(g))
    y = rv.relu(h)
    y.register_hook(lambda g: seen.append(g))
    (y * 3.0).sum().backward()
    np.testing.assert_array_equal(seen[0].numpy(), np.full((2, 3), 3.0, dtype=np.float32))
    np.testing.assert_array_equal(seen[1].numpy(), 3.0 * (x.detach().numpy() > 0))


def test_user_gradient_is_not_overwritten():
    x = _x()
    g = rv.full((2, 3), 5.0)
    rv.relu(x).backward(g)
    np.testing.assert_array_equal(g.numpy(), np.full((2, 3), 5.0, dtype=np.float32))
    np.testing.assert_array_equal(x.grad.numpy(), 5.0 * (x.detach().numpy() > 0))


def test_gradient_shared_by_two_consumers():
    """y feeds two relus: the gradient each receives is computed apart, and the sum is right."""
    x = _x()
    y = x * 1.0
    (rv.relu(y) * 2.0 + rv.relu(-y) * 3.0).sum().backward()
    xn = x.detach().numpy()
    np.testing.assert_array_equal(x.grad.numpy(), 2.0 * (xn > 0) - 3.0 * (xn < 0))


def test_one_gradient_handed_to_two_relus():
    """An add's backward hands the same gradient to both of its inputs: the first relu to run
    must not change what the second one receives."""
    x1 = _x()
    x2 = from_np(-_x().detach().numpy(), requires_grad=True)
    (rv.relu(x1 * 1.0) + rv.relu(x2 * 1.0)).sum().backward()
    np.testing.assert_array_equal(x1.grad.numpy(), (x1.detach().numpy() > 0).astype(np.float32))
    np.testing.assert_array_equal(x2.grad.numpy(), (x2.detach().numpy() > 0).astype(np.float32))


def test_second_path_is_summed_into_the_first_gradients_memory():
    """x feeds two products: their gradients are summed in place, so the backward holds two
    gradient blocks at most, not three (a fresh block for the sum)."""
    n = 1 << 20  # 4 MB a gradient: the other blocks of the step are far smaller
    xn = np.linspace(-1.0, 1.0, n, dtype=np.float32)
    x = from_np(xn, requires_grad=True)
    loss = (x * 2.0).sum() + (x * 3.0).sum()
    rv.cpu.reset_peak_memory_stats()
    before = rv.cpu.memory_allocated()
    loss.backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full(n, 5.0, dtype=np.float32))
    assert rv.cpu.max_memory_allocated() - before < 2.5 * 4 * n


def test_gradient_seen_by_a_hook_is_not_summed_into():
    """u's first gradient comes through t's add unchanged, and a hook on t holds it: the
    second path's gradient must go to a new block, leaving the hook's tensor as it was."""
    x = _x()
    u = x * 1.0
    a = u * 3.0
    t = u + 0.0
    seen = []
    t.register_hook(lambda g: seen.append(g))
    (a.sum() + (t * 2.0).sum()).backward()
    np.testing.assert_array_equal(seen[0].numpy(), np.full((2, 3), 2.0, dtype=np.float32))
    np.testing.assert_array_equal(x.grad.numpy(), np.full((2, 3), 5.0, dtype=np.float32))


def test_gradient_in_numpy_memory_is_not_summed_into():
    """A hook may return a tensor over a NumPy array's memory; that array still belongs to the
    caller, so neither the engine's sum nor .grad's later updates may write into it."""
    x = _x()
    u = x * 1.0
    a = u * 3.0
    t = u + 0.0
    arr = np.full((2, 3), 2.0, dtype=np.float32)
    t.register_hook(lambda g: rv.from_numpy(arr))
    (a.sum() + t.sum()).backward()
    np.testing.assert_array_equal(arr, np.full((2, 3), 2.0, dtype=np.float32))
    np.testing.assert_array_equal(x.grad.numpy(), np.full((2, 3), 5.0, dtype=np.float32))
    # a leaf's first gradient in NumPy memory: .grad must not take that memory over
    leaf = rv.zeros(3, requires_grad=True)
    arr2 = np.ones(3, dtype=np.float32)
    leaf.register_hook(lambda g: rv.from_numpy(arr2))
    (leaf * 2.0).sum().backward()
    (leaf * 2.0).sum().backward()
    np.testing.assert_array_equal(arr2, np.ones(3, dtype=np.float32))
    np.testing.assert_array_equal(leaf.grad.numpy(), np.full(3, 2.0, dtype=np.float32))
