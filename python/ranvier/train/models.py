"""The models `python -m ranvier.train` knows, built for the kind of data they meet.

Every model maps a batch of inputs to class logits: (N, classes) for signals and images,
(N, T, vocab) for text. What a dataset looks like is given by `DataInfo` (see data.py):
kind 'signal' (N, L) one-dimensional series such as MNIST-1D, 'image' (N, C, H, W), or
'text' (N, T) token ids.

The MNIST-1D models follow the architectures of the MNIST-1D paper (Greydanus & Steinbach)
whose test accuracies the trainer prints beside ours: an MLP with two hidden layers of 100
units and a residual second layer, a three-layer 1-D CNN with 25 channels, and a
bidirectional GRU with 6 hidden units read out from every time step.
"""
import math

from ranvier import nn

MODELS = ("mlp", "cnn", "resnet", "gru", "lstm", "gpt")


class MLP(nn.Module):
    """Flatten, then hidden Linear+ReLU(+Dropout) layers; a layer whose width matches its
    input adds its output to it (the residual MNIST-1D MLP)."""

    def __init__(self, in_features, classes, hidden=(100, 100), dropout=0.0):
        super().__init__()
        self.flatten = nn.Flatten()
        widths = (in_features,) + tuple(hidden)
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths, widths[1:]))
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(widths[-1], classes)

    def forward(self, x):
        h = self.flatten(x)
        for layer in self.hidden:
            y = self.drop(layer(h).relu())
            h = h + y if y.shape == h.shape else y
        return self.head(h)


class SignalCNN(nn.Module):
    """Three strided Conv1d+ReLU layers over a (N, L) signal, then a linear classifier."""

    def __init__(self, length, classes, channels=25):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv1d(1, channels, 5, stride=2, padding=1), nn.ReLU(),
            nn.Conv1d(channels, channels, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv1d(channels, channels, 3, stride=2, padding=1), nn.ReLU(),
            nn.Flatten())
        out = length
        for k in (5, 3, 3):
            out = (out + 2 - k) // 2 + 1
        self.head = nn.Linear(channels * out, classes)

    def forward(self, x):
        return self.head(self.features(x.unsqueeze(1)))


class ImageCNN(nn.Module):
    """LeNet-style: two Conv(3x3)+ReLU+MaxPool(2) stages, a hidden layer, dropout, classifier."""

    def __init__(self, channels, size, classes, widths=(32, 64), hidden=128, dropout=0.25):
        super().__init__()
        layers, c = [], channels
        for w in widths:
            layers += [nn.Conv2d(c, w, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
            c, size = w, size // 2
        self.features = nn.Sequential(*layers, nn.Flatten())
        self.head = nn.Sequential(nn.Linear(c * size * size, hidden), nn.ReLU(),
                                  nn.Dropout(dropout), nn.Linear(hidden, classes))

    def forward(self, x):
        return self.head(self.features(x))


class BasicBlock(nn.Module):
    """Two 3x3 conv + batch-norm layers with an identity (or 1x1 projection) shortcut."""

    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False),
                                          nn.BatchNorm2d(c_out))

    def forward(self, x):
        h = self.bn1(self.conv1(x)).relu()
        h = self.bn2(self.conv2(h))
        return (h + self.shortcut(x)).relu()


class ResNet(nn.Module):
    """CIFAR-style ResNet (He et al.): a 3x3 stem, three stages of `blocks` BasicBlocks with
    widths w, 2w, 4w (stride 2 between stages), global average pooling, a classifier.
    blocks=3, w=16 is ResNet-20."""

    def __init__(self, channels, classes, blocks=3, width=16):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(channels, width, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(width), nn.ReLU())
        stages, c = [], width
        for i, w in enumerate((width, 2 * width, 4 * width)):
            for j in range(blocks):
                stages.append(BasicBlock(c, w, 2 if (i > 0 and j == 0) else 1))
                c = w
        self.stages = nn.Sequential(*stages)
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(c, classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        return self.head(self.pool(self.stages(self.stem(x))))


class SequenceClassifier(nn.Module):
    """A (bidirectional) GRU or LSTM reading a sequence of feature vectors; the classifier
    sees the outputs of every time step, flattened (the MNIST-1D GRU), or only the last."""

    def __init__(self, cell, features, steps, classes, hidden, bidirectional, read_all):
        super().__init__()
        rnn = nn.GRU if cell == "gru" else nn.LSTM
        self.rnn = rnn(features, hidden, batch_first=True, bidirectional=bidirectional)
        self.read_all = read_all
        width = hidden * (2 if bidirectional else 1)
        self.head = nn.Linear(width * (steps if read_all else 1), classes)

    def forward(self, x):
        if x.dim() == 2:  # a 1-D signal: one feature per time step
            x = x.unsqueeze(-1)
        elif x.dim() == 4:  # an image: rows are time steps, columns x channels the features
            n, c, h, w = x.shape
            x = x.permute(0, 2, 1, 3).reshape(n, h, c * w)
        out, _ = self.rnn(x)
        out = out.flatten(1) if self.read_all else out[:, -1]
        return self.head(out)


class CharRNN(nn.Module):
    """Character language model: Embedding, a GRU or LSTM, a Linear over the vocabulary."""

    def __init__(self, cell, vocab, embed=128, hidden=256, layers=1):
        super().__init__()
        self.embed = nn.Embedding(vocab, embed)
        rnn = nn.GRU if cell == "gru" else nn.LSTM
        self.rnn = rnn(embed, hidden, num_layers=layers, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, tokens):
        out, _ = self.rnn(self.embed(tokens))
        return self.head(out)


class Block(nn.Module):
    """Pre-LayerNorm transformer block: causal self-attention, then a GELU MLP, each added
    to the residual stream."""

    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

    def forward(self, x):
        n, t, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(d, dim=2)
        q, k, v = (z.view(n, t, self.heads, d // self.heads).transpose(1, 2) for z in (q, k, v))
        a = nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.proj(a.transpose(1, 2).reshape(n, t, d))
        return x + self.mlp(self.ln2(x))


class GPT(nn.Module):
    """A small decoder-only transformer over characters with learned positions."""

    def __init__(self, vocab, context, d=128, heads=4, layers=4):
        super().__init__()
        self.tok = nn.Embedding(vocab, d)
        self.pos = nn.Embedding(context, d)
        self.blocks = nn.Sequential(*[Block(d, heads) for _ in range(layers)])
        self.ln = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab)
        for name, p in self.named_parameters():
            if name.endswith("weight") and p.dim() == 2:
                nn.init.normal_(p, 0.0, 0.02)
            if name.endswith("proj.weight") or name.endswith("mlp.2.weight"):
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * layers))

    def forward(self, tokens):
        from ranvier import arange
        t = tokens.shape[1]
        x = self.tok(tokens) + self.pos(arange(t))
        return self.head(self.ln(self.blocks(x)))


def build_model(name, info):
    """The model `name` for data described by `info` (a DataInfo)."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    kind = info.kind
    if kind == "text":
        if name in ("gru", "lstm"):
            return CharRNN(name, info.vocab)
        if name == "gpt":
            return GPT(info.vocab, info.context)
        raise ValueError(f"model {name!r} does not take text; use gru, lstm or gpt")
    if name == "gpt":
        raise ValueError("model 'gpt' is a language model: give it a text dataset")
    classes = info.classes
    if kind == "signal":
        (length,) = info.shape
        if name == "mlp":
            return MLP(length, classes)
        if name == "cnn":
            return SignalCNN(length, classes)
        if name == "resnet":
            raise ValueError("model 'resnet' takes images (fashion-mnist, mnist, cifar10)")
        return SequenceClassifier(name, 1, length, classes, hidden=6, bidirectional=True,
                                  read_all=True)
    channels, size, _ = info.shape
    if name == "mlp":
        return MLP(channels * size * size, classes, hidden=(512, 256), dropout=0.2)
    if name == "cnn":
        return ImageCNN(channels, size, classes)
    if name == "resnet":
        return ResNet(channels, classes)
    return SequenceClassifier(name, channels * size, size, classes, hidden=128,
                              bidirectional=False, read_all=False)
