"""ranvier.nn.functional: functional forms of layers (padding, one_hot, linear, embedding,
dropout, activations, ...); the bodies live in small nn/_functional_*.py modules."""
from ranvier import _C


def pad(input, pad, mode="constant", value=None):
    """Pads the last len(pad) // 2 dims of input: pad = (left_last, right_last, left_prev, ...).
    mode: 'constant' (with value, default 0), 'reflect', 'replicate' or 'circular'."""
    return _C.pad(input, tuple(pad), mode, value)


def one_hot(tensor, num_classes=-1):
    """int64 tensor of shape tensor.shape + (num_classes,) with a 1 at each class index."""
    return _C._one_hot(tensor, num_classes)


from ranvier.nn._functional_basic import (  # noqa: E402,F401
    linear, bilinear, embedding, embedding_bag)
from ranvier.nn._functional_dropout import (  # noqa: E402,F401
    dropout, dropout1d, dropout2d, dropout3d, alpha_dropout, feature_alpha_dropout)
from ranvier.nn._functional_activation import (  # noqa: E402,F401
    relu, relu_, relu6, leaky_relu, leaky_relu_, prelu, elu, elu_, selu, selu_, celu, celu_, gelu,
    silu, mish, sigmoid, tanh, hardtanh, hardtanh_, hardsigmoid, hardswish, softplus, softsign,
    tanhshrink, logsigmoid, glu, threshold, threshold_, softshrink, hardshrink)
from ranvier.nn._functional_conv import *  # noqa: E402,F401,F403  (conv, unfold, fold)
from ranvier.nn._functional_pool import *  # noqa: E402,F401,F403  (pooling)
from ranvier.nn._functional_loss import (  # noqa: E402,F401
    softmax, log_softmax, softmin, cross_entropy, nll_loss, mse_loss, l1_loss, smooth_l1_loss,
    huber_loss, binary_cross_entropy, binary_cross_entropy_with_logits, kl_div,
    cosine_embedding_loss, margin_ranking_loss, hinge_embedding_loss, pairwise_distance,
    triplet_margin_loss, poisson_nll_loss, gaussian_nll_loss)
from ranvier.nn._functional_norm import (  # noqa: E402,F401
    batch_norm, layer_norm, group_norm, instance_norm, rms_norm, local_response_norm)
from ranvier.nn._functional_attention import (  # noqa: E402,F401
    scaled_dot_product_attention, multi_head_attention_forward)
from ranvier.nn._functional_upsample import *  # noqa: E402,F401,F403  (interpolate, shuffles)
from ranvier.nn._functional_ctc import ctc_loss  # noqa: E402,F401
