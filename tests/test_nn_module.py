"""nn.Module base and containers: registration, traversal order and names, state_dict round
trip and strict errors, hooks, conversion, repr."""
from collections import OrderedDict

import numpy as np
import pytest

import ranvier as rv
import ranvier.nn as nn
from helpers import assert_close, to_np


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 4)
        self.register_buffer("running", rv.zeros(4))
        self.register_buffer("scratch", rv.ones(2), persistent=False)
        self.scale = nn.Parameter(rv.ones(1))
        self.act = nn.ReLU()

    def forward(self, x):
        return self.act(self.fc(x)) * self.scale + self.running


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = Block()
        self.seq = nn.Sequential(nn.Linear(4, 4), nn.Tanh(), nn.Linear(4, 2))
        self.head = nn.Linear(2, 1, bias=False)

    def forward(self, x):
        return self.head(self.seq(self.a(x)))


def test_named_parameters_order_and_names():
    names = [n for n, _ in Net().named_parameters()]
    # a module's own parameters come before its children's, children in assignment order
    assert names == ["a.scale", "a.fc.weight", "a.fc.bias", "seq.0.weight", "seq.0.bias",
                     "seq.2.weight", "seq.2.bias", "head.weight"]


def test_named_modules_children_buffers():
    net = Net()
    assert [n for n, _ in net.named_modules()] == [
        "", "a", "a.fc", "a.act", "seq", "seq.0", "seq.1", "seq.2", "head"]
    assert [n for n, _ in net.named_children()] == ["a", "seq", "head"]
    assert [n for n, _ in net.named_buffers()] == ["a.running", "a.scratch"]
    assert len(list(net.parameters())) == 8
    assert len(list(net.parameters(recurse=False))) == 0
    assert len(list(net.modules())) == 9


def test_shared_parameters_and_modules_counted_once():
    lin = nn.Linear(2, 2)
    seq = nn.Sequential(lin, lin)
    assert len(list(seq.parameters())) == 2
    assert [n for n, _ in seq.named_modules()] == ["", "0"]
    assert len(list(seq.named_parameters(remove_duplicate=False))) == 4


def test_state_dict_keys_and_nonpersistent_excluded():
    sd = Net().state_dict()
    assert isinstance(sd, OrderedDict)
    assert list(sd.keys()) == ["a.scale", "a.running", "a.fc.weight", "a.fc.bias",
                               "seq.0.weight", "seq.0.bias", "seq.2.weight", "seq.2.bias",
                               "head.weight"]
    assert not sd["a.fc.weight"].requires_grad
    sd2 = Net().state_dict(prefix="m.", keep_vars=True)
    assert list(sd2)[0] == "m.a.scale" and sd2["m.a.scale"].requires_grad


def test_state_dict_round_trip_copies_in_place():
    src, dst = Net(), Net()
    w_before = dst.a.fc.weight
    res = dst.load_state_dict(src.state_dict())
    assert res.missing_keys == [] and res.unexpected_keys == []
    assert dst.a.fc.weight is w_before  # copied into, not replaced
    x = rv.randn(5, 3)
    assert_close(dst(x), to_np(src(x)))
    # the loaded values are copies: changing the source afterwards does not reach dst
    with rv.no_grad():
        src.head.weight.fill_(7.0)
    assert not np.allclose(to_np(dst.head.weight), 7.0)


def test_load_state_dict_strict_errors():
    net = Net()
    sd = net.state_dict()
    del sd["head.weight"]
    with pytest.raises(RuntimeError, match=r'Missing key\(s\) in state_dict: "head.weight"'):
        net.load_state_dict(sd)
    sd = net.state_dict()
    sd["extra.thing"] = rv.zeros(1)
    with pytest.raises(RuntimeError, match=r'Unexpected key\(s\) in state_dict: "extra.thing"'):
        net.load_state_dict(sd)
    sd = net.state_dict()
    sd["a.fc.weight"] = rv.zeros(5, 3)
    with pytest.raises(RuntimeError, match=r"size mismatch for a.fc.weight: copying a param "
                                           r"with shape .*\[5, 3\].* from checkpoint, the shape "
                                           r"in current model is .*\[4, 3\]"):
        net.load_state_dict(sd)
    # size mismatches raise even when strict=False
    with pytest.raises(RuntimeError, match="size mismatch"):
        net.load_state_dict(sd, strict=False)


def test_load_state_dict_non_strict_returns_keys():
    net = Net()
    sd = net.state_dict()
    del sd["head.weight"]
    sd["bogus"] = rv.zeros(1)
    sd["a.scratch"] = rv.zeros(2)  # non-persistent buffers are not expected in a state dict
    res = net.load_state_dict(sd, strict=False)
    assert res.missing_keys == ["head.weight"]
    assert sorted(res.unexpected_keys) == ["a.scratch", "bogus"]
    ok = net.load_state_dict(net.state_dict())
    assert repr(ok) == "<All keys matched successfully>"


def test_load_state_dict_assign_replaces_tensors():
    net = nn.Linear(2, 2)
    new_w = rv.ones(2, 2)
    net.load_state_dict({"weight": new_w, "bias": rv.zeros(2)}, assign=True)
    assert isinstance(net.weight, nn.Parameter) and net.weight.requires_grad
    assert_close(net.weight, np.ones((2, 2), np.float32))


def test_setattr_registration_and_errors():
    m = nn.Module()
    m.p = nn.Parameter(rv.zeros(2))
    m.sub = nn.Linear(1, 1)
    m.b = nn.Buffer(rv.ones(3))
    m.plain = rv.zeros(1)  # a plain tensor is an ordinary attribute
    assert list(m._parameters) == ["p"] and list(m._modules) == ["sub"]
    assert list(m._buffers) == ["b"]
    assert "plain" not in m.state_dict()
    with pytest.raises(TypeError, match="cannot assign"):
        m.p = rv.zeros(2)
    m.p = None
    assert m.p is None and list(m.named_parameters()) == [("sub.weight", m.sub.weight),
                                                          ("sub.bias", m.sub.bias)]
    with pytest.raises(TypeError, match="not a Module subclass"):
        m.add_module("x", 3)
    with pytest.raises(KeyError, match="contain"):
        m.add_module("a.b", nn.ReLU())
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        m.nope
    del m.sub
    assert "sub" not in m._modules


def test_train_eval_requires_grad_zero_grad_apply():
    net = Net()
    net.eval()
    assert all(not m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    with pytest.raises(ValueError, match="boolean"):
        net.train(1)
    net.requires_grad_(False)
    assert all(not p.requires_grad for p in net.parameters())
    net.requires_grad_(True)
    net(rv.randn(2, 3)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(float(p.grad.abs().sum()) == 0.0 for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    seen = []
    net.apply(lambda m: seen.append(type(m).__name__))
    assert seen[-1] == "Net" and seen[0] == "Linear"


def test_to_float_double_and_device_errors():
    net = Net()
    net.double()
    assert all(p.dtype == rv.float64 for p in net.parameters())
    assert net.a.running.dtype == rv.float64
    out = net(rv.randn(2, 3, dtype=rv.float64))
    assert out.dtype == rv.float64
    w = net.head.weight
    net.to(rv.float32)
    assert net.head.weight is w and w.dtype == rv.float32  # same Parameter object
    net.half()
    assert net.head.weight.dtype == rv.float16
    net.float()
    assert net.to("cpu") is net
    if not rv.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA"):
            net.to("cuda")
        with pytest.raises(RuntimeError, match="CUDA"):
            net.cuda()
    with pytest.raises(TypeError, match="floating point"):
        net.to(rv.int64)


def test_forward_hooks_and_removal():
    lin = nn.Linear(2, 2)
    calls = []
    h1 = lin.register_forward_pre_hook(lambda m, args: calls.append("pre") or (args[0] * 0,))
    h2 = lin.register_forward_hook(lambda m, args, out: calls.append("post") or out + 1)
    out = lin(rv.ones(1, 2))
    assert calls == ["pre", "post"]
    assert_close(out, to_np(lin.bias).reshape(1, 2) + 1)
    h1.remove()
    h2.remove()
    x = rv.ones(1, 2)
    assert_close(lin(x), to_np(x) @ to_np(lin.weight).T + to_np(lin.bias), rtol=1e-5)
    assert calls == ["pre", "post"]
    with lin.register_forward_hook(lambda m, a, o: calls.append("ctx")):
        lin(x)
    lin(x)
    assert calls == ["pre", "post", "ctx"]


def test_forward_hook_with_kwargs_and_prepend():
    lin = nn.Linear(2, 2)
    order = []
    lin.register_forward_hook(lambda m, a, o: order.append(1))
    lin.register_forward_hook(lambda m, a, o: order.append(0), prepend=True)
    lin.register_forward_pre_hook(lambda m, a, kw: (a, kw), with_kwargs=True)
    lin(rv.ones(2))
    assert order == [0, 1]


def test_full_backward_hook_receives_grads():
    lin = nn.Linear(3, 2)
    got = {}

    def hook(m, gin, gout):
        got["gin"], got["gout"] = gin, gout

    h = lin.register_full_backward_hook(hook)
    x = rv.randn(4, 3, requires_grad=True)
    y = lin(x)
    g = rv.randn(4, 2)
    y.backward(g)
    assert_close(got["gout"][0], to_np(g))
    expect = to_np(g) @ to_np(lin.weight)
    assert_close(got["gin"][0], expect, rtol=1e-5, atol=1e-6)
    assert_close(x.grad, expect, rtol=1e-5, atol=1e-6)
    h.remove()
    got.clear()
    lin(x).sum().backward()
    assert got == {}


def test_full_backward_hook_can_replace_grad_input():
    lin = nn.Linear(3, 2)
    lin.register_full_backward_hook(lambda m, gin, gout: (gin[0] * 0 + 5,))
    x = rv.randn(2, 3, requires_grad=True)
    lin(x).sum().backward()
    assert_close(x.grad, np.full((2, 3), 5, np.float32))
    # an input that needs no gradient: the hook still sees grad_output, with grad_input None
    seen = []
    lin2 = nn.Linear(3, 2)
    lin2.register_full_backward_hook(lambda m, gin, gout: seen.append((gin, gout)))
    lin2(rv.randn(2, 3)).sum().backward()
    assert seen and seen[0][0] == (None,) and seen[0][1][0] is not None


def test_get_submodule_parameter_dir_repr():
    net = Net()
    assert net.get_submodule("seq.2") is net.seq[2]
    assert net.get_parameter("a.fc.bias") is net.a.fc.bias
    with pytest.raises(AttributeError, match="has no attribute `zz`"):
        net.get_submodule("a.zz")
    with pytest.raises(AttributeError, match="not an nn.Parameter"):
        net.get_parameter("a.running")
    assert "seq" in dir(net) and "head" in dir(net)
    assert repr(net.seq) == ("Sequential(\n  (0): Linear(in_features=4, out_features=4, "
                             "bias=True)\n  (1): Tanh()\n  (2): Linear(in_features=4, "
                             "out_features=2, bias=True)\n)")
    assert repr(nn.Linear(2, 3, bias=False)) == "Linear(in_features=2, out_features=3, bias=False)"


def test_forward_missing_raises():
    with pytest.raises(NotImplementedError, match="forward"):
        nn.Module()(1)


# ---- containers ---------------------------------------------------------------------------
def test_sequential_indexing_slicing_and_editing():
    a, b, c = nn.ReLU(), nn.Tanh(), nn.Sigmoid()
    s = nn.Sequential(a, b, c)
    assert s[0] is a and s[-1] is c and len(s) == 3 and list(s) == [a, b, c]
    sl = s[1:]
    assert isinstance(sl, nn.Sequential) and list(sl) == [b, c]
    assert list(sl._modules) == ["1", "2"]
    with pytest.raises(IndexError, match="out of range"):
        s[3]
    d = nn.Identity()
    s.append(d)
    assert s[3] is d
    e = nn.ELU()
    s.insert(1, e)
    assert list(s) == [a, e, b, c, d] and list(s._modules) == ["0", "1", "2", "3", "4"]
    s.extend([nn.ReLU6()])
    assert len(s) == 6
    del s[0]
    assert s[0] is e and list(s._modules) == [str(i) for i in range(5)]
    s[0] = a
    assert s[0] is a
    x = rv.tensor([-1.0, 0.5])
    assert_close(nn.Sequential(nn.ReLU(), nn.Tanh())(x), np.tanh(np.maximum(to_np(x), 0)))


def test_sequential_ordered_dict():
    s = nn.Sequential(OrderedDict([("conv", nn.Linear(2, 2)), ("act", nn.ReLU())]))
    assert list(s._modules) == ["conv", "act"]
    assert [n for n, _ in s.named_parameters()] == ["conv.weight", "conv.bias"]
    assert s[-1] is s.act


def test_module_list_and_dict():
    ml = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(ml) == 3 and [n for n, _ in ml.named_parameters()][:2] == ["0.weight", "0.bias"]
    ml.append(nn.ReLU())
    assert isinstance(ml[-1], nn.ReLU)
    assert isinstance(ml[1:], nn.ModuleList) and len(ml[1:]) == 3
    ml.insert(0, nn.Tanh())
    assert isinstance(ml[0], nn.Tanh) and list(ml._modules) == [str(i) for i in range(5)]
    del ml[0]
    assert isinstance(ml[0], nn.Linear)
    assert "(0-2): 3 x Linear(in_features=2, out_features=2, bias=True)" in repr(ml)
    with pytest.raises(TypeError, match="iterable"):
        ml.extend(nn.ReLU())
    md = nn.ModuleDict({"b": nn.ReLU(), "a": nn.Linear(1, 1)})
    assert list(md.keys()) == ["b", "a"] and "a" in md and len(md) == 2
    assert [n for n, _ in md.named_parameters()] == ["a.weight", "a.bias"]
    md["c"] = nn.Tanh()
    assert list(md) == ["b", "a", "c"]
    assert isinstance(md.pop("b"), nn.ReLU) and list(md) == ["a", "c"]


def test_parameter_list_and_dict():
    pl = nn.ParameterList([nn.Parameter(rv.zeros(2)), rv.ones(3)])
    assert len(pl) == 2 and isinstance(pl[1], nn.Parameter) and pl[1].requires_grad
    pl.append(rv.zeros(1))
    assert [n for n, _ in pl.named_parameters()] == ["0", "1", "2"]
    assert "(0): Parameter containing: [ranvier.float32 of size 2]" in repr(pl)
    pd = nn.ParameterDict({"w": rv.zeros(2, 2)})
    pd["b"] = nn.Parameter(rv.ones(2))
    assert list(pd.keys()) == ["w", "b"] and isinstance(pd["w"], nn.Parameter)
    assert [n for n, _ in pd.named_parameters()] == ["w", "b"]
    del pd["w"]
    assert list(pd) == ["b"]


def test_flatten_unflatten_identity():
    x = rv.randn(2, 3, 4)
    assert tuple(nn.Flatten()(x).shape) == (2, 12)
    assert tuple(nn.Flatten(0, -1)(x).shape) == (24,)
    assert tuple(nn.Unflatten(1, (3, 1))(rv.randn(2, 3)).shape) == (2, 3, 1)
    assert nn.Identity(5, k=1)(x) is x
    assert repr(nn.Flatten()) == "Flatten(start_dim=1, end_dim=-1)"


def test_torch_state_dict_loads_into_ranvier():
    torch = pytest.importorskip("torch")
    tnet = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.ReLU(), torch.nn.Linear(5, 2))
    rnet = nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 2))
    sd = {k: rv.from_numpy(v.detach().numpy().copy()) for k, v in tnet.state_dict().items()}
    assert list(sd) == list(rnet.state_dict())
    rnet.load_state_dict(sd)
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    expect = tnet(torch.from_numpy(x)).detach().numpy()
    assert_close(rnet(rv.from_numpy(x)), expect, rtol=1e-5, atol=1e-6)


def test_register_name_errors():
    m = nn.Module()
    with pytest.raises(KeyError, match="contain"):
        m.register_parameter("a.b", None)
    with pytest.raises(KeyError, match="contain"):
        m.register_buffer("a.b", rv.zeros(1))
    with pytest.raises(KeyError, match="empty string"):
        m.register_buffer("", rv.zeros(1))
    with pytest.raises(KeyError, match="already exists"):
        m.register_buffer("forward", rv.zeros(1))
    with pytest.raises(TypeError, match="ranvier.nn.Parameter or None required"):
        m.register_parameter("w", rv.zeros(1))
    with pytest.raises(TypeError, match="buffer 'b'"):
        m.register_buffer("b", [1.0])


def test_structure_names_and_repr_match_torch():
    torch = pytest.importorskip("torch")

    def build(ns):
        return ns.Sequential(OrderedDict([
            ("emb", ns.Embedding(10, 4, padding_idx=0)),
            ("body", ns.ModuleList([ns.Linear(4, 4), ns.Linear(4, 4), ns.Dropout(0.1)])),
            ("heads", ns.ModuleDict({"b": ns.Bilinear(4, 4, 2), "a": ns.PReLU(4)})),
            ("flat", ns.Flatten()), ("unflat", ns.Unflatten(1, (2, 2))), ("id", ns.Identity()),
            ("params", ns.ParameterList([ns.Parameter(torch.zeros(2) if ns is torch.nn
                                                      else rv.zeros(2))])),
        ]))

    t, r = build(torch.nn), build(nn)
    assert [n for n, _ in r.named_parameters()] == [n for n, _ in t.named_parameters()]
    assert [n for n, _ in r.named_modules()] == [n for n, _ in t.named_modules()]
    assert list(r.state_dict()) == list(t.state_dict())
    rr = repr(r).replace("ranvier", "torch").split("\n")
    tr = repr(t).split("\n")
    # ParameterList spacing differs between PyTorch versions; compare the other lines
    assert [a for a in rr if "Parameter" not in a] == [a for a in tr if "Parameter" not in a]


def test_full_backward_hook_two_inputs():
    bil = nn.Bilinear(2, 3, 1)
    got = []
    bil.register_full_backward_hook(lambda m, gin, gout: got.append(gin))
    a = rv.randn(4, 2, requires_grad=True)
    b = rv.randn(4, 3, requires_grad=True)
    bil(a, b).sum().backward()
    assert len(got) == 1 and len(got[0]) == 2
    assert_close(got[0][0], to_np(a.grad))
    assert_close(got[0][1], to_np(b.grad))


class _Holder(nn.Module):
    """A bare module class for the attribute look-up tests below."""


def test_registered_names_resolve_per_instance():
    # Look-up of registered names goes through a class-level descriptor (module.py,
    # _Registered): it must never leak one instance's entries into another's.
    a, b = _Holder(), _Holder()
    pa = nn.Parameter(rv.ones(2))
    a.w = pa
    b.w = 3  # a plain attribute of the same name on another instance
    assert a.w is pa
    assert b.w == 3
    c = _Holder()
    with pytest.raises(AttributeError, match="w"):
        c.w
    assert not hasattr(c, "w")
    assert not hasattr(_Holder, "w")  # class access: no attribute
    del a.w
    with pytest.raises(AttributeError):
        a.w
    a.register_buffer("w", rv.zeros(3))
    assert a.w.shape == (3,)
    a.w = None
    assert a.w is None and "w" in a._buffers
    sub = nn.Linear(2, 2)
    a.w2 = sub
    assert a.w2 is sub and c.__dict__.get("w2") is None


def test_registered_name_does_not_hide_class_attributes():
    class WithProperty(nn.Module):
        @property
        def scale(self):
            return 7

    m = WithProperty()
    other = _Holder()
    other.register_buffer("scale", rv.ones(1))
    assert m.scale == 7  # a property defined by a class is never replaced
    assert other.scale.shape == (1,)
    with pytest.raises(KeyError, match="already exists"):
        m.register_buffer("scale", rv.ones(1))
