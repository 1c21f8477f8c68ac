"""nn.functional: softmax family and the losses. softmax/log_softmax/softmin and cross_entropy
with class-index targets run fused C++ kernels; the other losses are compositions of
differentiable ops that follow PyTorch's formulas exactly."""
import math
import warnings

import ranvier
from ranvier import _C


# -- helpers ---------------------------------------------------------------------------------
def _reduction_from_legacy(size_average, reduce, reduction):
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if not reduce:
        return "none"
    return "mean" if size_average else "sum"


def _reduce(loss, reduction, op):
    if reduction == "none":
        return loss
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    raise ValueError("%s: '%s' is not a valid value for reduction (expected 'none', 'mean' or "
                     "'sum')" % (op, reduction))


def _check_reduction(reduction, op, extra=()):
    if reduction not in ("none", "mean", "sum") + tuple(extra):
        raise ValueError("%s: '%s' is not a valid value for reduction" % (op, reduction))


def _warn_broadcast(input, target, op):
    if tuple(target.shape) != tuple(input.shape):
        warnings.warn("%s: using a target size (%s) that is different to the input size (%s). "
                      "This will likely lead to incorrect results due to broadcasting. Please "
                      "ensure they have the same size." % (op, tuple(target.shape),
                                                           tuple(input.shape)), stacklevel=3)


def _implicit_dim(ndim, op):
    warnings.warn("Implicit dimension choice for %s has been deprecated. Change the call to "
                  "include dim=X as an argument." % op, stacklevel=3)
    return 0 if ndim in (0, 1, 3) else 1


# -- softmax family --------------------------------------------------------------------------
def softmax(input, dim=None, _stacklevel=3, dtype=None):
    """exp(x) / sum(exp(x)) along dim (computed stably); dtype converts the input first."""
    if dim is None:
        dim = _implicit_dim(input.dim(), "softmax")
    return _C.softmax(input, dim, dtype)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    """log(softmax(x)) along dim, computed stably in one fused kernel."""
    if dim is None:
        dim = _implicit_dim(input.dim(), "log_softmax")
    return _C.log_softmax(input, dim, dtype)


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    """softmax(-x) along dim."""
    if dim is None:
        dim = _implicit_dim(input.dim(), "softmin")
    return _C._softmin(input, dim, dtype)


# -- classification --------------------------------------------------------------------------
def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0, *, dtype=None):
    """Cross entropy between logits input (N, C, d1, ...) or (C,) and class-index targets
    (fused kernel) or class probabilities of the input's shape. dtype (an extension: autocast
    passes float32) is the loss's; float16 / bfloat16 logits on CUDA are then read in place
    rather than copied to float32."""
    reduction = _reduction_from_legacy(size_average, reduce, reduction)
    if not target.is_floating_point():
        return _C._cross_entropy(input, target, weight, reduction, ignore_index,
                                 float(label_smoothing), dtype)
    if dtype is not None:
        input = input.to(dtype)
    _check_reduction(reduction, "cross_entropy")
    if tuple(target.shape) != tuple(input.shape):
        raise RuntimeError("cross_entropy: expected class-probability target of the input's shape "
                           "%s, got %s" % (tuple(input.shape), tuple(target.shape)))
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError("cross_entropy: label_smoothing must be between 0.0 and 1.0, got %r"
                         % (label_smoothing,))
    cdim = 1 if input.dim() >= 2 else 0
    c = input.shape[cdim]
    logp = log_softmax(input, cdim)
    if label_smoothing > 0:
        target = target * (1.0 - label_smoothing) + label_smoothing / c
    prod = logp * target
    if weight is not None:
        if weight.dim() != 1 or weight.numel() != c:
            raise RuntimeError("cross_entropy: expected a weight of %d elements (one per class), "
                               "got shape %s" % (c, tuple(weight.shape)))
        shape = [1] * input.dim()
        shape[cdim] = c
        prod = prod * weight.reshape(shape)
    loss = -prod.sum(cdim)
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    return loss.sum() / (input.numel() // c if c else 0)


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
             reduction="mean"):
    """Negative log-likelihood of log-probabilities input (N, C, d1, ...) or (C,) at class-index
    targets, with class weights and ignore_index; mean divides by the summed target weights."""
    reduction = _reduction_from_legacy(size_average, reduce, reduction)
    _check_reduction(reduction, "nll_loss")
    if input.dim() < 1:
        raise ValueError("nll_loss: expected an input with at least 1 dim, got shape ()")
    if target.dtype != ranvier.int64:
        raise RuntimeError("nll_loss: expected class-index targets of dtype int64, got %s"
                           % (target.dtype,))
    cdim = 1 if input.dim() >= 2 else 0
    c = input.shape[cdim]
    expected = tuple(s for i, s in enumerate(input.shape) if i != cdim)
    if input.dim() >= 2 and target.dim() >= 1 and target.shape[0] != input.shape[0]:
        raise ValueError("nll_loss: expected input batch_size (%d) to match target batch_size "
                         "(%d)" % (input.shape[0], target.shape[0]))
    if tuple(target.shape) != expected:
        raise RuntimeError("nll_loss: expected target of shape %s for input of shape %s, got %s"
                           % (expected, tuple(input.shape), tuple(target.shape)))
    ignored = target == ignore_index
    bad = ranvier.logical_and(ranvier.logical_not(ignored),
                              ranvier.logical_or(target < 0, target >= c))
    if bool(bad.any()):
        value = int(target[bad].reshape(-1)[0].item())
        raise IndexError("nll_loss: target %d is out of bounds for %d classes" % (value, c))
    safe = ranvier.where(ignored, ranvier.zeros_like(target), target)
    picked = input.gather(cdim, safe.unsqueeze(cdim)).squeeze(cdim)
    if weight is not None:
        if weight.dim() != 1 or weight.numel() != c:
            raise RuntimeError("nll_loss: expected a weight of %d elements (one per class), got "
                               "shape %s" % (c, tuple(weight.shape)))
        w = weight.to(input.dtype).index_select(0, safe.reshape(-1)).reshape(safe.shape)
    else:
        w = ranvier.ones(tuple(safe.shape), dtype=input.dtype, device=input.device)
    w = ranvier.where(ignored, ranvier.zeros_like(w), w)
    loss = -picked * w
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    return loss.sum() / w.sum()


# -- regression ------------------------------------------------------------------------------
def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean squared error (input - target) ** 2; warns when the shapes differ (broadcasting)."""
    reduction = _reduction_from_legacy(size_average, reduce, reduction)
    _check_reduction(reduction, "mse_loss")
    _warn_broadcast(input, target, "mse_loss")
    d = input - target
    loss = d * d
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction, "mse_loss")


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean absolute error |input - target|."""
    reduction = _reduction_from_legacy(size_average, reduce, reduction)
    _check_reduction(reduction, "l1_loss")
    _warn_broadcast(input, target, "l1_loss")
    loss = (input - target).abs()
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction, "l1_loss")


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """0.5 d^2 / beta where |d| < beta, |d| - 0.5 beta elsewhere (beta = 0 gives l1_loss)."""
    reduction = _reduction_from_legacy(size_average, reduce, reduction)
    _check_reduction(reduction, "smooth_l1_loss")
    if beta < 0:
        raise RuntimeError("smooth_l1_loss: beta must be non-negative, got %r" % (beta,))
    _warn_broadcast(input, target, "smooth_l1_loss")
    if beta == 0:
        return _reduce((input - target).abs(), reduction, "smooth_l1_loss")
    d = (input - target).abs()
    loss = ranvier.where(d < beta, 0.5 * d * d / beta, d - 0.5 * beta)
    return _reduce(loss, reduction, "smooth_l1_loss")


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """0.5 d^2 where |d| < delta, delta (|d| - 0.5 delta) elsewhere."""
    _check_reduction(reduction, "huber_loss")
    if delta <= 0:
        raise RuntimeError("huber_loss: delta must be positive, got %r" % (delta,))
    _warn_broadcast(input, target, "huber_loss")
    d = (input - target).abs()
    loss = ranvier.where(d < delta, 0.5 * d * d, delta * (d - 0.5 * delta))
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction, "huber_loss")


# -- binary ----------------------------------------------------------------------------------
def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction="mean"):
    """-(t log x + (1 - t) log(1 - x)) with each log clamped at -100; input in [0, 1]."""
    reduction = _reduction_from_legacy(size_average, reduce, reduction)
    _check_reduction(reduction, "binary_cross_entropy")
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError("binary_cross_entropy: using a target size (%s) that is different to "
                         "the input size (%s) is deprecated. Please ensure they have the same "
                         "size." % (tuple(target.shape), tuple(input.shape)))
    with ranvier.no_grad():
        if input.numel() and bool(ranvier.logical_or(input < 0, input > 1).any()):
            raise RuntimeError("binary_cross_entropy: all elements of input should be between "
                               "0 and 1")
    log_x = ranvier.clamp(ranvier.log(input), min=-100)
    log_1mx = ranvier.clamp(ranvier.log(1 - input), min=-100)
    loss = -(target * log_x + (1 - target) * log_1mx)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction, "binary_cross_entropy")


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
    """Sigmoid + binary cross entropy in the stable form
    (1 - t) x + (1 + (pw - 1) t) (log(1 + exp(-|x|)) + max(-x, 0))."""
    reduction = _reduction_from_legacy(size_average, reduce, reduction)
    _check_reduction(reduction, "binary_cross_entropy_with_logits")
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError("binary_cross_entropy_with_logits: target size (%s) must be the same "
                         "as input size (%s)" % (tuple(target.shape), tuple(input.shape)))
    soft = ranvier.log1p(ranvier.exp(-input.abs())) + ranvier.clamp(-input, min=0)
    if pos_weight is not None:
        loss = (1 - target) * input + (1 + (pos_weight - 1) * target) * soft
    else:
        loss = (1 - target) * input + soft
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction, "binary_cross_entropy_with_logits")


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """Pointwise KL divergence target * (log(target) - input) (input holds log-probabilities);
    reduction 'batchmean' divides the sum by the batch size."""
    reduction = _reduction_from_legacy(size_average, reduce, reduction)
    _check_reduction(reduction, "kl_div", ("batchmean",))
    if reduction == "mean":
        warnings.warn("kl_div: reduction 'mean' divides the total loss by both the batch size "
                      "and the support size; 'batchmean' divides only by the batch size, which "
                      "matches the KL divergence definition.", stacklevel=2)
    if log_target:
        loss = ranvier.exp(target) * (target - input)
    else:
        pos = target > 0
        safe = ranvier.where(pos, target, ranvier.ones_like(target))
        loss = target * ranvier.log(safe) - target * input
    if reduction == "batchmean":
        s = loss.sum()
        return s / input.shape[0] if input.dim() != 0 else s
    return _reduce(loss, reduction, "kl_div")


# -- embedding and ranking -------------------------------------------------------------------
def cosine_embedding_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None,
                          reduction="mean"):
    """1 - cos(x1, x2) where target is 1, max(0, cos(x1, x2) - margin) where it is -1."""
    reduction = _reduction_from_legacy(size_average, reduce, reduction)
    _check_reduction(reduction, "cosine_embedding_loss")
    if input1.dim() not in (1, 2) or tuple(input1.shape) != tuple(input2.shape):
        raise RuntimeError("cosine_embedding_loss: expected 1-D or 2-D inputs of the same shape, "
                           "got %s and %s" % (tuple(input1.shape), tuple(input2.shape)))
    eps = 1e-12
    dim = input1.dim() - 1
    prod = (input1 * input2).sum(dim)
    m1 = (input1 * input1).sum(dim) + eps
    m2 = (input2 * input2).sum(dim) + eps
    cos = prod / ranvier.sqrt(m1 * m2)
    zeros = ranvier.zeros_like(cos)
    pos = ranvier.where(target == 1, 1 - cos, zeros)
    neg = ranvier.where(target == -1, ranvier.clamp(cos - margin, min=0), zeros)
    return _reduce(pos + neg, reduction, "cosine_embedding_loss")


def margin_ranking_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None,
                        reduction="mean"):
    """max(0, -target * (x1 - x2) + margin)."""
    reduction = _reduction_from_legacy(size_average, reduce, reduction)
    _check_reduction(reduction, "margin_ranking_loss")
    if input1.dim() != input2.dim() or input1.dim() != target.dim():
        raise RuntimeError("margin_ranking_loss: all input tensors should have the same number "
                           "of dims, got %s, %s and %s" % (tuple(input1.shape),
                                                           tuple(input2.shape),
                                                           tuple(target.shape)))
    loss = ranvier.clamp(-target * (input1 - input2) + margin, min=0)
    return _reduce(loss, reduction, "margin_ranking_loss")


def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None,
                         reduction="mean"):
    """x where target is 1, max(0, margin - x) where target is -1."""
    reduction = _reduction_from_legacy(size_average, reduce, reduction)
    _check_reduction(reduction, "hinge_embedding_loss")
    zeros = ranvier.zeros_like(input)
    out_margin = ranvier.where(target != 1, ranvier.clamp(margin - input, min=0), zeros)
    out_self = ranvier.where(target != -1, input, zeros)
    return _reduce(out_margin + out_self, reduction, "hinge_embedding_loss")


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """p-norm of x1 - x2 + eps over the last dim."""
    d = x1 - x2 + eps
    return ranvier.norm(d, p, -1, keepdim) if d.dim() > 0 else ranvier.norm(d, p)


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False,
                        size_average=None, reduce=None, reduction="mean"):
    """max(0, margin + d(a, p) - d(a, n)) with the pairwise p-norm distance; swap uses
    min(d(a, n), d(p, n))."""
    reduction = _reduction_from_legacy(size_average, reduce, reduction)
    _check_reduction(reduction, "triplet_margin_loss")
    dims = (anchor.dim(), positive.dim(), negative.dim())
    if len(set(dims)) != 1 or dims[0] not in (1, 2):
        raise RuntimeError("triplet_margin_loss: expected anchor, positive and negative to be 1-D "
                           "or 2-D with the same number of dims, got shapes %s, %s and %s"
                           % (tuple(anchor.shape), tuple(positive.shape), tuple(negative.shape)))
    if margin <= 0:
        raise ValueError("triplet_margin_loss: margin must be greater than 0, got %r" % (margin,))
    d_ap = pairwise_distance(anchor, positive, p, eps)
    d_an = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_an = ranvier.minimum(d_an, pairwise_distance(positive, negative, p, eps))
    loss = ranvier.clamp(margin + d_ap - d_an, min=0)
    return _reduce(loss, reduction, "triplet_margin_loss")


# -- likelihoods -----------------------------------------------------------------------------
def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8,
                     reduce=None, reduction="mean"):
    """exp(x) - t x (log_input) or x - t log(x + eps); full adds Stirling's term for t > 1."""
    reduction = _reduction_from_legacy(size_average, reduce, reduction)
    _check_reduction(reduction, "poisson_nll_loss")
    if log_input:
        loss = ranvier.exp(input) - target * input
    else:
        loss = input - target * ranvier.log(input + eps)
    if full:
        big = target > 1
        safe = ranvier.where(big, target, ranvier.ones_like(target))
        stirling = safe * ranvier.log(safe) - safe + 0.5 * ranvier.log(2 * math.pi * safe)
        loss = loss + ranvier.where(big, stirling, ranvier.zeros_like(stirling))
    return _reduce(loss, reduction, "poisson_nll_loss")


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """0.5 (log(max(var, eps)) + (input - target)^2 / max(var, eps)) (+ 0.5 log(2 pi) when
    full); the clamp of var passes the gradient through unchanged."""
    _check_reduction(reduction, "gaussian_nll_loss")
    if isinstance(var, (int, float)):
        var = ranvier.full_like(input, float(var))
    if tuple(var.shape) != tuple(input.shape):
        if tuple(input.shape[:-1]) == tuple(var.shape):
            var = var.unsqueeze(-1)
        elif tuple(input.shape[:-1]) == tuple(var.shape[:-1]) and var.shape[-1] == 1:
            pass
        else:
            raise ValueError("gaussian_nll_loss: var is of incorrect size %s for input of shape "
                             "%s" % (tuple(var.shape), tuple(input.shape)))
    with ranvier.no_grad():
        if var.numel() and bool((var < 0).any()):
            raise ValueError("gaussian_nll_loss: var has negative entry/entries")
        shift = ranvier.clamp(var, min=eps) - var
    var = var + shift
    d = input - target
    loss = 0.5 * (ranvier.log(var) + d * d / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction, "gaussian_nll_loss")
