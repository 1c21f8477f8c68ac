"""The standard workloads of BENCHMARKS.md, written once against the PyTorch-style API so that
the same code runs on ranvier and on PyTorch (`lib` is the module: ranvier or torch).

Each workload builder returns (step, units): step() runs one measured step, units is what one
step processes (samples, tokens, FLOPs, ...) for the throughput figure. `device` ("cpu" or
"cuda") is where the data and the model live."""


def sgemm(lib, n, device="cpu", dtype=None, tf32=False):
    """n x n @ n x n in float32 (or dtype); tf32 lets float32 products use TF32 tensor cores."""
    a = lib.randn(n, n, device=device)
    b = lib.randn(n, n, device=device)
    if dtype is not None:
        a, b = a.to(dtype), b.to(dtype)
    lib.backends.cuda.matmul.allow_tf32 = tf32

    def step():
        return a @ b

    return step, 2.0 * n ** 3


def overhead(lib, reps=1000, device="cpu"):
    a = lib.ones(1, device=device)
    b = lib.ones(1, device=device)

    def step():
        for _ in range(reps):
            a + b

    return step, reps


def _init_linear(lib, fan_in, fan_out, gen_seed, device="cpu"):
    # Same scheme for both libraries: uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)), like nn.Linear.
    bound = 1.0 / fan_in ** 0.5
    w = (lib.rand(fan_in, fan_out, device=device) * 2 - 1) * bound
    b = (lib.rand(fan_out, device=device) * 2 - 1) * bound
    return w.requires_grad_(), b.requires_grad_()


def mlp_raw(lib, batch=128, device="cpu"):
    """The mlp workload written with raw tensor ops: matmul, relu, a hand-written log-softmax
    cross-entropy, and manual SGD with momentum 0.9 (lr 0.01)."""
    lib.manual_seed(0)
    sizes = [784, 512, 256, 10]
    params = []
    for i in range(3):
        params += list(_init_linear(lib, sizes[i], sizes[i + 1], i, device))
    bufs = [lib.zeros_like(p) for p in params]
    x = lib.randn(batch, 784, device=device)
    y = lib.randint(0, 10, (batch,), device=device)
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


def _mlp_model(lib):
    nn = lib.nn
    return nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(),
                         nn.Linear(256, 10))


def _train_step(lib, model, x, y):
    """zero grads, forward, cross-entropy, backward, SGD step (lr 0.01, momentum 0.9)."""
    opt = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    F = lib.nn.functional

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return step


def mlp(lib, batch=128, device="cpu"):
    """The mlp workload with nn layers: Linear-ReLU-Linear-ReLU-Linear, cross-entropy, SGD."""
    lib.manual_seed(0)
    model = _mlp_model(lib).to(device)
    x = lib.randn(batch, 784, device=device)
    y = lib.randint(0, 10, (batch,), device=device)
    return _train_step(lib, model, x, y), batch


def cnn(lib, batch=64, device="cpu"):
    """The cnn workload: two conv-relu-maxpool stages, then two Linear layers."""
    nn = lib.nn
    lib.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, 10)).to(device)
    x = lib.randn(batch, 1, 28, 28, device=device)
    y = lib.randint(0, 10, (batch,), device=device)
    return _train_step(lib, model, x, y), batch


def infer1(lib, reps=100, device="cpu"):
    """Latency of the mlp model in eval mode under no_grad with a batch of 1."""
    lib.manual_seed(0)
    model = _mlp_model(lib).to(device).eval()
    x = lib.randn(1, 784, device=device)

    def step():
        with lib.no_grad():
            for _ in range(reps):
                model(x)

    return step, reps


def _adam_train_step(lib, model, x, y, lr, weight_decay=0.0, decoupled=False, autocast=None):
    """A sequence-model step with Adam (or AdamW when decoupled), cross-entropy over all steps;
    autocast: a dtype to run the forward pass in under autocast on x's device."""
    cls = lib.optim.AdamW if decoupled else lib.optim.Adam
    opt = cls(model.parameters(), lr=lr, weight_decay=weight_decay)
    F = lib.nn.functional

    def forward_loss():
        logits = model(x)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))

    def step():
        opt.zero_grad(set_to_none=True)
        if autocast is None:
            loss = forward_loss()
        else:
            with lib.autocast(device_type=x.device.type, dtype=autocast):
                loss = forward_loss()
        loss.backward()
        opt.step()
        return loss

    return step


def lstm(lib, batch=32, steps=64, vocab=96, device="cpu"):
    """The lstm workload: Embedding(96,128)-LSTM(128,256, batch_first)-Linear(256,96) over
    batch 32 x 64 tokens, cross-entropy over all steps, Adam lr 1e-3."""
    nn = lib.nn

    class CharLSTM(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(vocab, 128)
            self.rnn = nn.LSTM(128, 256, 1, batch_first=True)
            self.head = nn.Linear(256, vocab)

        def forward(self, tok):
            out, _ = self.rnn(self.emb(tok))
            return self.head(out)

    lib.manual_seed(0)
    model = CharLSTM().to(device)
    x = lib.randint(0, vocab, (batch, steps), device=device)
    y = lib.randint(0, vocab, (batch, steps), device=device)
    return _adam_train_step(lib, model, x, y, lr=1e-3), batch * steps


def gpt(lib, batch=16, ctx=64, vocab=96, d=128, heads=4, layers=4, device="cpu", autocast=None):
    """The gpt workload: token + learned position embeddings, 4 pre-LayerNorm blocks (fused qkv,
    causal scaled-dot-product attention, proj, MLP with GELU, residuals), final LayerNorm and a
    Linear head; cross-entropy, AdamW lr 3e-4. gpt-124m is the same model at GPT-2 small's size
    (12 layers, d 768, 12 heads, context 1024, vocab 50257, batch 8) under bfloat16 autocast."""
    nn = lib.nn
    F = nn.functional

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1 = nn.LayerNorm(d)
            self.qkv = nn.Linear(d, 3 * d)
            self.proj = nn.Linear(d, d)
            self.ln2 = nn.LayerNorm(d)
            self.fc = nn.Linear(d, 4 * d)
            self.act = nn.GELU()
            self.fc2 = nn.Linear(4 * d, d)

        def forward(self, x):
            B, T, C = x.shape
            q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
            q = q.view(B, T, heads, C // heads).transpose(1, 2)
            k = k.view(B, T, heads, C // heads).transpose(1, 2)
            v = v.view(B, T, heads, C // heads).transpose(1, 2)
            a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + self.proj(a.transpose(1, 2).reshape(B, T, C))
            return x + self.fc2(self.act(self.fc(self.ln2(x))))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.tok = nn.Embedding(vocab, d)
            self.pos = nn.Embedding(ctx, d)
            self.blocks = nn.ModuleList([Block() for _ in range(layers)])
            self.ln_f = nn.LayerNorm(d)
            self.head = nn.Linear(d, vocab)

        def forward(self, idx):
            T = idx.shape[1]
            x = self.tok(idx) + self.pos(lib.arange(T, device=idx.device))
            for blk in self.blocks:
                x = blk(x)
            return self.head(self.ln_f(x))

    lib.manual_seed(0)
    model = GPT().to(device)
    x = lib.randint(0, vocab, (batch, ctx), device=device)
    y = lib.randint(0, vocab, (batch, ctx), device=device)
    return _adam_train_step(lib, model, x, y, lr=3e-4, weight_decay=0.01, decoupled=True,
                            autocast=autocast), batch * ctx
