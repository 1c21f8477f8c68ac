"""nn and data on CUDA: Module.to / cuda / cpu / half / bfloat16 (parameters moved in place, so
optimizers built before the move keep working; buffers and grads too), optimizer state on the
parameter's device, Tensor.pin_memory / is_pinned, non_blocking copies, DataLoader(pin_memory),
and the host readers of a CUDA tensor (item, tolist, repr, bool, numpy's TypeError, save/load).

The first group runs everywhere (errors and defaults without CUDA); the second needs CUDA (a GPU,
or the stand-in backend in CI: .ci/cuda_build_check)."""
import io
import warnings

import numpy as np
import pytest

import ranvier
from ranvier import nn
from ranvier.data import DataLoader, TensorDataset

needs_cuda = pytest.mark.skipif(not ranvier.cuda.is_available(), reason="no CUDA device")
without_cuda = pytest.mark.skipif(ranvier.cuda.is_available(), reason="CUDA is available")


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 4)
        self.bn = nn.BatchNorm1d(4)
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        # relu before the batch norm: straight after a Linear, batch norm makes the Linear's
        # bias gradient zero up to rounding, which Adam would amplify into noise-driven steps
        return self.head(self.bn(self.fc(x).relu()))


# -- everywhere ---------------------------------------------------------------------------------
@without_cuda
def test_module_to_cuda_without_cuda_raises():
    net = Net()
    for move in (lambda: net.to("cuda"), lambda: net.cuda(),
                 lambda: net.to("cuda:0", ranvier.float64), lambda: net.cuda(0)):
        with pytest.raises(RuntimeError, match="CUDA"):
            move()
    assert net.fc.weight.device.type == "cpu" and net.fc.weight.dtype == ranvier.float32


def test_module_to_arguments():
    net = Net()
    w = net.fc.weight
    assert net.to("cpu") is net and net.cpu() is net and net.fc.weight is w
    assert net.to(ranvier.device("cpu"), non_blocking=True) is net
    net.to(ranvier.zeros(1, dtype=ranvier.float64))  # to(tensor): its dtype and device
    assert net.fc.weight is w and w.dtype == ranvier.float64
    assert net.bn.running_mean.dtype == ranvier.float64
    assert net.bn.num_batches_tracked.dtype == ranvier.int64  # integer buffers keep their dtype
    net.to(dtype=ranvier.float32, memory_format=None)
    assert w.dtype == ranvier.float32
    assert net.bfloat16() is net and w.dtype == ranvier.bfloat16
    net.half()
    assert w.dtype == ranvier.float16 and net.bn.running_var.dtype == ranvier.float16
    with pytest.raises(TypeError, match="floating point"):
        net.to(ranvier.int32)
    with pytest.raises(TypeError, match="unexpected keyword argument 'foo'"):
        net.to("cpu", foo=1)
    with pytest.raises(TypeError, match="invalid argument of type list"):
        net.to([1])


def test_module_to_moves_grads_with_parameters():
    net = Net()
    net(ranvier.randn(5, 3)).sum().backward()
    g = net.fc.weight.grad
    net.double()
    assert net.fc.weight.grad.dtype == ranvier.float64
    np.testing.assert_allclose(net.fc.weight.grad.numpy(), g.double().numpy())


@without_cuda
def test_pin_memory_without_cuda():
    t = ranvier.ones(3)
    assert t.is_pinned() is False
    with pytest.raises(RuntimeError, match="pin_memory: pinned memory needs CUDA"):
        t.pin_memory()


@without_cuda
def test_factories_pin_memory_and_cuda_device_without_cuda():
    with pytest.raises(RuntimeError, match="pin_memory"):
        ranvier.empty(2, pin_memory=True)
    with pytest.raises(RuntimeError, match="pin_memory"):
        ranvier.tensor([1.0], pin_memory=True)
    for data in (ranvier.ones(2), np.ones(2), [1.0, 2.0]):
        with pytest.raises(RuntimeError, match="CUDA"):
            ranvier.tensor(data, device="cuda")
    with pytest.raises(RuntimeError, match="CUDA"):
        ranvier.as_tensor(ranvier.ones(2), device="cuda")


@without_cuda
def test_dataloader_pin_memory_without_cuda_warns():
    ds = TensorDataset(ranvier.arange(6.0).reshape(3, 2), ranvier.arange(3))
    loader = DataLoader(ds, batch_size=2, pin_memory=True)
    with pytest.warns(UserWarning, match="pin_memory"):
        batches = list(loader)
    assert [b[0].is_pinned() for b in batches] == [False, False]
    np.testing.assert_array_equal(batches[0][0].numpy(), [[0, 1], [2, 3]])


def test_non_blocking_is_accepted():
    a, b = ranvier.zeros(3), ranvier.arange(3.0)
    a.copy_(b, non_blocking=True)
    np.testing.assert_array_equal(a.numpy(), [0, 1, 2])
    assert b.to("cpu", non_blocking=True) is b
    assert b.to(ranvier.float64, non_blocking=True).dtype == ranvier.float64


# -- with CUDA ------------------------------------------------------------------------------------
@needs_cuda
def test_module_cuda_moves_in_place_and_optimizer_follows():
    ranvier.manual_seed(0)
    net = Net()
    ref = Net()
    ref.load_state_dict(net.state_dict())
    params = list(net.parameters())
    opt = ranvier.optim.Adam(net.parameters(), lr=0.1)
    ref_opt = ranvier.optim.Adam(ref.parameters(), lr=0.1)
    assert net.cuda() is net
    assert [p is q for p, q in zip(net.parameters(), params)] == [True] * len(params)
    for p in net.parameters():
        assert p.device == ranvier.device("cuda:0") and p.requires_grad and p.is_leaf
    for name, b in net.named_buffers():
        assert b.device.type == "cuda", name
    x = ranvier.randn(6, 3)
    for _ in range(3):
        for m, o, inp in ((net, opt, x.cuda()), (ref, ref_opt, x)):
            o.zero_grad()
            m(inp).pow(2).mean().backward()
            o.step()
    for (name, p), q in zip(net.named_parameters(), ref.parameters()):
        assert p.device.type == "cuda"
        np.testing.assert_allclose(p.detach().cpu().numpy(), q.detach().numpy(), rtol=1e-5,
                                   atol=1e-6, err_msg=name)
    for state in opt.state.values():
        for k, v in state.items():
            if k != "step":
                assert v.device.type == "cuda", k
    np.testing.assert_allclose(net.bn.running_mean.cpu().numpy(), ref.bn.running_mean.numpy(),
                               rtol=1e-5, atol=1e-6)
    net.cpu()
    assert all(p.device.type == "cpu" for p in net.parameters())
    assert net.bn.running_var.device.type == "cpu"


@needs_cuda
def test_module_to_device_and_dtype_together():
    net = Net()
    net(ranvier.randn(4, 3)).sum().backward()
    net.to("cuda", ranvier.float64)
    for p in net.parameters():
        assert p.device.type == "cuda" and p.dtype == ranvier.float64
        assert p.grad.device.type == "cuda" and p.grad.dtype == ranvier.float64
    assert net.bn.num_batches_tracked.device.type == "cuda"
    assert net.bn.num_batches_tracked.dtype == ranvier.int64
    net.to(ranvier.zeros(1))  # back to the tensor's device and dtype
    assert net.fc.weight.device.type == "cpu" and net.fc.weight.dtype == ranvier.float32
    net.cuda(0).half()
    assert net.head.bias.device.type == "cuda" and net.head.bias.dtype == ranvier.float16


@needs_cuda
def test_optimizer_state_loaded_onto_parameter_device():
    w = nn.Parameter(ranvier.randn(3))
    opt = ranvier.optim.SGD([w], lr=0.1, momentum=0.9)
    w.grad = ranvier.ones(3)
    opt.step()
    state = opt.state_dict()
    wc = nn.Parameter(w.detach().cuda())
    opt2 = ranvier.optim.SGD([wc], lr=0.1, momentum=0.9)
    opt2.load_state_dict(state)
    buf = opt2.state[wc]["momentum_buffer"]
    assert buf.device.type == "cuda"
    np.testing.assert_allclose(buf.cpu().numpy(), np.ones(3))


@needs_cuda
def test_pin_memory():
    t = ranvier.arange(12.0).reshape(3, 4)[:, 1:]  # non-contiguous source
    assert not t.is_pinned()
    p = t.pin_memory()
    assert p.is_pinned() and p.device.type == "cpu" and p.is_contiguous()
    np.testing.assert_array_equal(p.numpy(), t.numpy())
    assert p.pin_memory().data_ptr() == p.data_ptr()  # pinned already: no copy
    assert p[1:].is_pinned()  # a view of pinned memory is pinned
    c = p.to("cuda", non_blocking=True)
    np.testing.assert_array_equal(c.cpu().numpy(), t.numpy())
    back = ranvier.empty(3, 3).pin_memory()
    back.copy_(c, non_blocking=True)
    ranvier.cuda.synchronize()
    np.testing.assert_array_equal(back.numpy(), t.numpy())
    assert not c.is_pinned()
    with pytest.raises(RuntimeError, match="pin_memory: cannot pin a cuda:0 tensor"):
        c.pin_memory()
    z = ranvier.zeros(0, 2).pin_memory()  # zero-size
    assert tuple(z.shape) == (0, 2) and z.device.type == "cpu"


@needs_cuda
def test_factories_device_and_pin_memory():
    for data in (ranvier.arange(3.0), np.arange(3.0, dtype=np.float32), [0.0, 1.0, 2.0]):
        for make in (ranvier.tensor, ranvier.as_tensor):
            t = make(data, device="cuda")
            assert t.device.type == "cuda", (make, type(data))
            np.testing.assert_array_equal(t.cpu().numpy(), [0, 1, 2])
    c = ranvier.arange(3.0, device="cuda")
    assert ranvier.tensor(c).device.type == "cuda"  # a copy on the source's device
    assert ranvier.tensor(c, device="cpu").device.type == "cpu"
    assert ranvier.empty(3, pin_memory=True).is_pinned()
    p = ranvier.tensor([1.0, 2.0], pin_memory=True)
    assert p.is_pinned() and p.tolist() == [1.0, 2.0]


@needs_cuda
def test_dataloader_pins_batches():
    ds = TensorDataset(ranvier.arange(8.0).reshape(4, 2), ranvier.arange(4))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        batches = list(DataLoader(ds, batch_size=2, pin_memory=True))
    assert all(x.is_pinned() and y.is_pinned() for x, y in batches)
    np.testing.assert_array_equal(batches[1][1].numpy(), [2, 3])
    assert not any(x.is_pinned() for x, _ in DataLoader(ds, batch_size=2))
    dicts = list(DataLoader([{"a": ranvier.ones(2), "n": 1}] * 2, batch_size=2, pin_memory=True))
    assert dicts[0]["a"].is_pinned()


@needs_cuda
def test_host_readers_of_cuda_tensors():
    c = ranvier.tensor([[1.5, -2.0], [3.0, 4.0]], device="cuda")
    assert c[0, 0].item() == 1.5 and float(c[1, 1]) == 4.0 and int(c[1, 0]) == 3
    assert c.tolist() == [[1.5, -2.0], [3.0, 4.0]]
    assert bool(c[0, 0] > 0) and not bool(c[0, 1] > 0)
    assert "%.2f" % c[0, 0] == "1.50" and f"{c[0, 1]:.1f}" == "-2.0"
    r = repr(c)
    assert r.startswith("tensor([[ 1.5000, -2.0000]") and "device='cuda:0'" in r
    assert "dtype=ranvier.float16" in repr(c.half()) and "device='cuda:0'" in repr(c.half())
    assert "requires_grad=True" in repr(c.clone().requires_grad_())
    with pytest.raises(TypeError, match="can't convert cuda:0 device type tensor to numpy"):
        c.numpy()
    with pytest.raises(TypeError, match="can't convert cuda:0 device type tensor to numpy"):
        np.asarray(c)
    i = ranvier.tensor(1, device="cuda")
    np.testing.assert_array_equal(c[i].cpu().numpy(), [3.0, 4.0])  # 0-d index on the device
    assert [t.shape[1] for t in ranvier.tensor_split(c, ranvier.tensor(2, device="cuda"), 1)] \
        == [1, 1]  # a 0-d tensor: the number of sections
    assert [t.shape[0] for t in ranvier.tensor_split(c, ranvier.tensor([1], device="cuda"))] \
        == [1, 1]  # a 1-d tensor: the split points
    assert ranvier.tensor([c[0, 0], c[1, 1]]).tolist() == [1.5, 4.0]


@needs_cuda
def test_save_and_load_cuda_tensors():
    net = Net().cuda()
    buf = io.BytesIO()
    ranvier.save(net.state_dict(), buf)
    buf.seek(0)
    sd = ranvier.load(buf)
    assert sd["fc.weight"].device.type == "cuda"
    np.testing.assert_array_equal(sd["fc.weight"].cpu().numpy(),
                                  net.fc.weight.detach().cpu().numpy())
    buf.seek(0)
    cpu = ranvier.load(buf, map_location="cpu")
    assert cpu["bn.running_var"].device.type == "cpu"


@needs_cuda
def test_attention_paths_make_their_masks_on_the_input_device():
    # scaled_dot_product_attention's unfused path (taken with dropout; p = 1e-9 drops nothing
    # in practice) with is_causal, and MultiheadAttention with bias_k / bias_v, add_zero_attn
    # and boolean masks: each builds mask or padding tensors of its own, which must live on the
    # inputs' device.
    rng = np.random.default_rng(3)
    q, k, v = (ranvier.tensor(rng.standard_normal((2, 3, 5, 8)), dtype=ranvier.float32)
               for _ in range(3))
    ref = nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
    out = nn.functional.scaled_dot_product_attention(
        q.cuda(), k.cuda(), v.cuda(), dropout_p=1e-9, is_causal=True)
    assert out.device.type == "cuda"
    np.testing.assert_allclose(out.cpu().numpy(), ref.numpy(), rtol=1e-5, atol=1e-6)

    ranvier.manual_seed(4)
    m = nn.MultiheadAttention(8, 2, add_bias_kv=True, add_zero_attn=True)
    x = ranvier.tensor(rng.standard_normal((5, 2, 8)), dtype=ranvier.float32)
    kpm = ranvier.tensor(np.array([[False] * 5, [False] * 3 + [True] * 2]))
    amask = ranvier.ones(5, 5, dtype=ranvier.bool).triu(1)
    out_cpu, w_cpu = m(x, x, x, key_padding_mask=kpm, attn_mask=amask)
    out_cpu.sum().backward()
    g_cpu = m.in_proj_weight.grad.numpy().copy()
    m.zero_grad()
    m.cuda()
    out, w = m(x.cuda(), x.cuda(), x.cuda(), key_padding_mask=kpm.cuda(),
               attn_mask=amask.cuda())
    out.sum().backward()
    assert out.device.type == "cuda" and w.device.type == "cuda"
    for got, want in ((out, out_cpu), (w, w_cpu)):
        np.testing.assert_allclose(got.detach().cpu().numpy(), want.detach().numpy(), rtol=1e-4,
                                   atol=1e-5)
    np.testing.assert_allclose(m.in_proj_weight.grad.cpu().numpy(), g_cpu, rtol=1e-4, atol=1e-5)
