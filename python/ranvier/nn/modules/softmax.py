"""Softmax-family modules: Softmax, LogSoftmax, Softmin over a dim, Softmax2d over channels."""
from ranvier.nn import _functional_loss as F
from ranvier.nn.modules.module import Module


class Softmax(Module):
    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return F.softmax(input, self.dim)

    def extra_repr(self):
        return "dim=%s" % (self.dim,)


class LogSoftmax(Softmax):
    def forward(self, input):
        return F.log_softmax(input, self.dim)


class Softmin(Softmax):
    def forward(self, input):
        return F.softmin(input, self.dim)


class Softmax2d(Module):
    """Softmax over the channel dim of (N, C, H, W) or (C, H, W) input."""

    def forward(self, input):
        if input.dim() not in (3, 4):
            raise ValueError("Softmax2d: expected input of 3 or 4 dims, got shape %s"
                             % (tuple(input.shape),))
        return F.softmax(input, -3)
