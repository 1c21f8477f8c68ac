"""GradScaler's ops and GradScaler itself on CUDA against the CPU (skipped without a usable GPU;
in CI they run against the stand-in backend)."""
import numpy as np
import pytest

import ranvier
from ranvier import _C

pytestmark = pytest.mark.skipif(not ranvier.cuda.is_available(), reason="no CUDA device")


@pytest.mark.parametrize("dtype", [ranvier.float32, ranvier.float64, ranvier.float16,
                                   ranvier.bfloat16], ids=str)
@pytest.mark.parametrize("bad", [None, np.inf, np.nan])
def test_unscale_matches_the_cpu(dtype, bad):
    rng = np.random.default_rng(1)
    a = rng.uniform(-50, 50, size=(3, 1000)).astype(np.float32)
    if bad is not None:
        a[2, 777] = bad
    b = rng.uniform(-5, 5, size=(7,)).astype(np.float32)
    results = {}
    for dev in ("cpu", "cuda"):
        g1 = ranvier.tensor(a).to(dtype).to(dev).t()  # non-contiguous
        g2 = ranvier.tensor(b).to(dtype).to(dev)
        found = ranvier.zeros(1, device=dev)
        _C._amp_foreach_non_finite_check_and_unscale_([g1, g2], found,
                                                      ranvier.tensor([0.25], device=dev))
        assert g1.is_cuda == (dev == "cuda") and found.device.type == dev
        results[dev] = (g1.cpu().double().numpy(), g2.cpu().double().numpy(), found.item())
    np.testing.assert_array_equal(results["cuda"][0], results["cpu"][0])
    np.testing.assert_array_equal(results["cuda"][1], results["cpu"][1])
    assert results["cuda"][2] == results["cpu"][2] == (0.0 if bad is None else 1.0)


@pytest.mark.parametrize("found", [0.0, 1.0])
@pytest.mark.parametrize("tracker", [0, 2])
def test_update_scale_matches_the_cpu(found, tracker):
    out = {}
    for dev in ("cpu", "cuda"):
        s = ranvier.tensor([1024.0], device=dev)
        t = ranvier.tensor([tracker], dtype=ranvier.int32, device=dev)
        _C._amp_update_scale_(s, t, ranvier.tensor([found], device=dev), 2.0, 0.5, 3)
        out[dev] = (s.item(), t.item())
    assert out["cuda"] == out["cpu"]
    # growth after the third clean step, backoff on inf (independent of the kernels)
    want = (512.0, 0) if found else ((2048.0, 0) if tracker == 2 else (1024.0, 1))
    assert out["cuda"] == want


def test_grad_scaler_steps_on_cuda_like_on_the_cpu():
    def run(dev):
        ranvier.manual_seed(0)
        model = ranvier.nn.Linear(4, 3).to(dev)
        opt = ranvier.optim.SGD(model.parameters(), lr=0.1)
        scaler = ranvier.amp.GradScaler(dev, init_scale=256.0, growth_interval=2)
        x = ranvier.tensor(np.linspace(-1, 1, 20, dtype=np.float32).reshape(5, 4), device=dev)
        for _ in range(3):
            opt.zero_grad()
            scaler.scale((model(x) ** 2).mean()).backward()
            scaler.step(opt)
            scaler.update()
        return model.weight.detach().cpu().numpy(), scaler.get_scale()

    w_cpu, s_cpu = run("cpu")
    w_cuda, s_cuda = run("cuda")
    np.testing.assert_allclose(w_cuda, w_cpu, rtol=1e-5, atol=1e-6)
    assert s_cuda == s_cpu == 512.0
