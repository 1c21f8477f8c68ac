"""The standard workloads of BENCHMARKS.md, written once against the PyTorch-style API so that
the same code runs on ranvier and on PyTorch (`lib` is the module: ranvier or torch).

Each workload builder returns (step, units): step() runs one measured step, units is what one
step processes (samples, tokens, FLOPs, ...) for the throughput figure."""


def sgemm(lib, n):
    a = lib.randn(n, n)
    b = lib.randn(n, n)

    def step():
        return a @ b

    return step, 2.0 * n ** 3


def overhead(lib, reps=1000):
    a = lib.ones(1)
    b = lib.ones(1)

    def step():
        for _ in range(reps):
            a + b

    return step, reps


def _init_linear(lib, fan_in, fan_out, gen_seed):
    # Same scheme for both libraries: uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)), like nn.Linear.
    bound = 1.0 / fan_in ** 0.5
    w = (lib.rand(fan_in, fan_out) * 2 - 1) * bound
    b = (lib.rand(fan_out) * 2 - 1) * bound
    return w.requires_grad_(), b.requires_grad_()


def mlp_raw(lib, batch=128):
    """The mlp workload written with raw tensor ops: matmul, relu, a hand-written log-softmax
    cross-entropy, and manual SGD with momentum 0.9 (lr 0.01)."""
    lib.manual_seed(0)
    sizes = [784, 512, 256, 10]
    params = []
    for i in range(3):
        params += list(_init_linear(lib, sizes[i], sizes[i + 1], i))
    bufs = [lib.zeros_like(p) for p in params]
    x = lib.randn(batch, 784)
    y = lib.randint(0, 10, (batch,))
    lr, mom = 0.01, 0.9

    def forward():
        h = x
        for i in range(3):
            h = h @ params[2 * i] + params[2 * i + 1]
            if i < 2:
                h = h.relu()
        # cross-entropy: logsumexp(logits) - logits[label], averaged
        m = h.max(dim=1, keepdim=True).values.detach()
        lse = (h - m).exp().sum(dim=1).log() + m.squeeze(1)
        picked = h.gather(1, y.unsqueeze(1)).squeeze(1)
        return (lse - picked).mean()

    def step():
        for p in params:
            p.grad = None
        loss = forward()
        loss.backward()
        with lib.no_grad():
            for p, v in zip(params, bufs):
                v.mul_(mom).add_(p.grad)
                p.sub_(v * lr)
        return loss

    return step, batch


def _sgd_momentum(lib, params, lr=0.01, momentum=0.9):
    """Manual SGD with momentum (the optim package comes later); same update as torch.optim.SGD."""
    bufs = [None] * len(params)

    def update():
        with lib.no_grad():
            for i, p in enumerate(params):
                if bufs[i] is None:
                    bufs[i] = p.grad.clone()
                else:
                    bufs[i].mul_(momentum).add_(p.grad)
                p.sub_(bufs[i] * lr)

    return update


def _mlp_model(lib):
    nn = lib.nn
    return nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(),
                         nn.Linear(256, 10))


def _train_step(lib, model, x, y):
    params = list(model.parameters())
    update = _sgd_momentum(lib, params)
    F = lib.nn.functional

    def step():
        model.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        update()
        return loss

    return step


def mlp(lib, batch=128):
    """The mlp workload with nn layers: Linear-ReLU-Linear-ReLU-Linear, cross-entropy, SGD."""
    lib.manual_seed(0)
    model = _mlp_model(lib)
    x = lib.randn(batch, 784)
    y = lib.randint(0, 10, (batch,))
    return _train_step(lib, model, x, y), batch


def cnn(lib, batch=64):
    """The cnn workload: two conv-relu-maxpool stages, then two Linear layers."""
    nn = lib.nn
    lib.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, 10))
    x = lib.randn(batch, 1, 28, 28)
    y = lib.randint(0, 10, (batch,))
    return _train_step(lib, model, x, y), batch


def infer1(lib, reps=100):
    """Latency of the mlp model in eval mode under no_grad with a batch of 1."""
    lib.manual_seed(0)
    model = _mlp_model(lib).eval()
    x = lib.randn(1, 784)

    def step():
        with lib.no_grad():
            for _ in range(reps):
                model(x)

    return step, reps
