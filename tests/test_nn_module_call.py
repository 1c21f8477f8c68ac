"""Calling a module and reading its registered attributes, both implemented in C
(csrc/python/module_base.cpp): forward gets exactly the caller's arguments, hooks added or
removed at any time take effect on the next call, an instance's own `forward` wins, subclasses
may override __call__, and modules copy and deepcopy (and pickle, without tensors) as plain
Python objects."""
import copy
import pickle

import numpy as np
import pytest

import ranvier as rv
from ranvier import nn


class Echo(nn.Module):
    def forward(self, *args, **kwargs):
        return args, kwargs


def test_forward_gets_the_arguments_as_given():
    m = Echo()
    assert m() == ((), {})
    assert m(1, 2, k=3) == ((1, 2), {"k": 3})
    kw = {"a": 1}
    _, got = m(**kw)
    got["b"] = 2  # forward's kwargs must not be the caller's dict
    assert kw == {"a": 1}


def test_hooks_added_and_removed_between_calls():
    m = nn.Linear(3, 2)
    x = rv.randn(4, 3)
    plain = m(x).detach().numpy()
    h = m.register_forward_hook(lambda mod, args, out: out * 2)
    np.testing.assert_allclose(m(x).detach().numpy(), 2 * plain, rtol=1e-6)
    h.remove()
    np.testing.assert_array_equal(m(x).detach().numpy(), plain)
    seen = []
    h = m.register_forward_pre_hook(lambda mod, args: seen.append(args[0].shape))
    m(x)
    assert seen == [(4, 3)]
    h.remove()
    m(x)
    assert seen == [(4, 3)]


def test_pre_hook_with_kwargs_replaces_the_arguments():
    m = Echo()
    m.register_forward_pre_hook(lambda mod, args, kwargs: ((9,), {"z": 1}), with_kwargs=True)
    assert m(1, y=2) == ((9,), {"z": 1})


def test_instance_forward_and_subclass_call_override():
    m = Echo()
    m.forward = lambda x: x + 1
    assert m(1) == 2

    class Twice(Echo):
        def __call__(self, *args, **kwargs):
            return super().__call__(*args, **kwargs), "wrapped"

    assert Twice()(5) == (((5,), {}), "wrapped")
    assert nn.Module.__call__(Echo(), 7) == ((7,), {})


def test_errors_pass_through_unchanged():
    class Fails(nn.Module):
        def forward(self, x):
            raise ValueError("bad input %r" % (x,))

    with pytest.raises(ValueError, match="bad input 3"):
        Fails()(3)
    with pytest.raises(NotImplementedError, match="missing the required \"forward\""):
        nn.Module()(1)

    class NoInit(nn.Module):
        def __init__(self):
            pass  # Module.__init__ never called

        def forward(self, x):
            return x

    with pytest.raises(AttributeError, match="_forward_pre_hooks"):
        NoInit()(1)


def test_modules_copy_deepcopy_and_pickle():
    m = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    x = rv.randn(2, 3)
    want = m(x).detach().numpy()
    other = copy.deepcopy(m)
    assert type(other) is nn.Sequential and other[0].weight is not m[0].weight
    np.testing.assert_array_equal(other(x).detach().numpy(), want)
    # (tensors do not pickle: checkpoints use ranvier.save) a module without tensors does
    act = pickle.loads(pickle.dumps(nn.LeakyReLU(0.3)))
    assert type(act) is nn.LeakyReLU and act.negative_slope == 0.3
    np.testing.assert_allclose(act(rv.tensor([-1.0, 2.0])).numpy(), [-0.3, 2.0], rtol=1e-6)
    shallow = copy.copy(m)
    assert shallow[0] is m[0]


def test_lazy_module_turns_into_its_plain_class():
    m = nn.LazyLinear(3)
    out = m(rv.randn(2, 5))
    assert type(m) is nn.Linear and out.shape == (2, 3) and m.weight.shape == (3, 5)


def test_registered_attribute_descriptor():
    attr = nn.Linear.__dict__["weight"]
    assert attr.name == "weight"
    with pytest.raises(AttributeError, match="weight"):
        nn.Linear.weight
    lin = nn.Linear(2, 2, bias=False)
    assert lin.bias is None  # registered as None: the descriptor returns None
    assert lin.weight is lin._parameters["weight"]
    with pytest.raises(TypeError):
        type(attr)(3)  # the name must be a str
    lin.__dict__["weight"] = "shadow"  # an instance attribute wins over the descriptor
    assert lin.weight == "shadow"
