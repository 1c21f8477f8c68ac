"""ranvier.nn: modules, parameters and the functional interface."""
from ranvier.nn import functional  # noqa: F401
from ranvier.nn.parameter import Buffer, Parameter  # noqa: F401
from ranvier.nn.modules import Module  # noqa: F401
from ranvier.nn.modules import (  # noqa: F401,E402
    L1Loss, MSELoss, SmoothL1Loss, HuberLoss, NLLLoss, CrossEntropyLoss, BCELoss,
    BCEWithLogitsLoss, KLDivLoss, CosineEmbeddingLoss, MarginRankingLoss, HingeEmbeddingLoss,
    TripletMarginLoss, PoissonNLLLoss, GaussianNLLLoss, Softmax, LogSoftmax, Softmin, Softmax2d,
    BatchNorm1d, BatchNorm2d, BatchNorm3d, InstanceNorm1d, InstanceNorm2d, InstanceNorm3d,
    LayerNorm, GroupNorm, RMSNorm, LocalResponseNorm)
