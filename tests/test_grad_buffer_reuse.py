"""Backward functions may write their result over an incoming gradient that nothing else holds
(relu's backward does, saving a buffer and a pass): a gradient the user, a hook or retain_grad
can still see must never be changed that way. Values against NumPy."""
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
