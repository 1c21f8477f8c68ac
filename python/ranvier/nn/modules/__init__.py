"""The nn.Module classes."""
from ranvier.nn.modules.module import Module  # noqa: F401
from ranvier.nn.modules.container import (Sequential, ModuleList, ModuleDict,  # noqa: F401
                                          ParameterList, ParameterDict)
from ranvier.nn.modules.linear import Identity, Linear, Bilinear  # noqa: F401
from ranvier.nn.modules.flatten import Flatten, Unflatten  # noqa: F401
from ranvier.nn.modules.sparse import Embedding, EmbeddingBag  # noqa: F401
from ranvier.nn.modules.dropout import (Dropout, Dropout1d, Dropout2d, Dropout3d,  # noqa: F401
                                        AlphaDropout, FeatureAlphaDropout)
from ranvier.nn.modules.activation import (  # noqa: F401
    ReLU, ReLU6, LeakyReLU, PReLU, ELU, SELU, CELU, GELU, SiLU, Mish, Sigmoid, Tanh, Hardtanh,
    Hardsigmoid, Hardswish, Softplus, Softsign, Tanhshrink, LogSigmoid, GLU, Threshold,
    Softshrink, Hardshrink)
from ranvier.nn.modules import conv as _conv, pooling as _pooling  # noqa: E402
from ranvier.nn.modules.conv import *  # noqa: E402,F401,F403
from ranvier.nn.modules.pooling import *  # noqa: E402,F401,F403

from ranvier.nn.modules.loss import (  # noqa: F401
    L1Loss, MSELoss, SmoothL1Loss, HuberLoss, NLLLoss, CrossEntropyLoss, BCELoss,
    BCEWithLogitsLoss, KLDivLoss, CosineEmbeddingLoss, MarginRankingLoss, HingeEmbeddingLoss,
    TripletMarginLoss, PoissonNLLLoss, GaussianNLLLoss)
from ranvier.nn.modules.softmax import Softmax, LogSoftmax, Softmin, Softmax2d  # noqa: F401
from ranvier.nn.modules.batchnorm import (  # noqa: F401
    BatchNorm1d, BatchNorm2d, BatchNorm3d, InstanceNorm1d, InstanceNorm2d, InstanceNorm3d)
from ranvier.nn.modules.normalization import (  # noqa: F401
    LayerNorm, GroupNorm, RMSNorm, LocalResponseNorm)
from ranvier.nn.modules.rnn import (RNNBase, RNN, LSTM, GRU, RNNCellBase, RNNCell,  # noqa: F401
                                    LSTMCell, GRUCell)
from ranvier.nn.modules.activation_attention import MultiheadAttention  # noqa: F401
from ranvier.nn.modules.transformer import *  # noqa: E402,F401,F403
from ranvier.nn.modules import transformer as _transformer  # noqa: E402
from ranvier.nn.modules import upsampling as _upsampling, lazy as _lazy  # noqa: E402
from ranvier.nn.modules.upsampling import *  # noqa: E402,F401,F403
from ranvier.nn.modules.lazy import *  # noqa: E402,F401,F403
from ranvier.nn.modules.loss_ctc import CTCLoss  # noqa: E402,F401

__all__ = _conv.__all__ + _pooling.__all__ + _transformer.__all__ + _upsampling.__all__ + \
    _lazy.__all__ + ["CTCLoss",
    "MultiheadAttention",
    "Module", "Sequential", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict",
    "Identity", "Linear", "Bilinear", "Flatten", "Unflatten", "Embedding", "EmbeddingBag",
    "Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout",
    "ReLU", "ReLU6", "LeakyReLU", "PReLU", "ELU", "SELU", "CELU", "GELU", "SiLU", "Mish",
    "Sigmoid", "Tanh", "Hardtanh", "Hardsigmoid", "Hardswish", "Softplus", "Softsign",
    "Tanhshrink", "LogSigmoid", "GLU", "Threshold", "Softshrink", "Hardshrink",
    "L1Loss", "MSELoss", "SmoothL1Loss", "HuberLoss", "NLLLoss", "CrossEntropyLoss",
    "BCELoss", "BCEWithLogitsLoss", "KLDivLoss", "CosineEmbeddingLoss", "MarginRankingLoss", "HingeEmbeddingLoss",
    "TripletMarginLoss", "PoissonNLLLoss", "GaussianNLLLoss", "Softmax", "LogSoftmax", "Softmin",
    "Softmax2d", "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "InstanceNorm1d", "InstanceNorm2d",
    "InstanceNorm3d", "LayerNorm", "GroupNorm", "RMSNorm", "LocalResponseNorm",
    "RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell",
]
