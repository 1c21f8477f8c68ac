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
