"""The nn.Module classes."""
from ranvier.nn.modules.module import Module  # noqa: F401
from ranvier.nn.modules.loss import (  # noqa: F401
    L1Loss, MSELoss, SmoothL1Loss, HuberLoss, NLLLoss, CrossEntropyLoss, BCELoss,
    BCEWithLogitsLoss, KLDivLoss, CosineEmbeddingLoss, MarginRankingLoss, HingeEmbeddingLoss,
    TripletMarginLoss, PoissonNLLLoss, GaussianNLLLoss)
from ranvier.nn.modules.softmax import Softmax, LogSoftmax, Softmin, Softmax2d  # noqa: F401
from ranvier.nn.modules.batchnorm import (  # noqa: F401
    BatchNorm1d, BatchNorm2d, BatchNorm3d, InstanceNorm1d, InstanceNorm2d, InstanceNorm3d)
from ranvier.nn.modules.normalization import (  # noqa: F401
    LayerNorm, GroupNorm, RMSNorm, LocalResponseNorm)
