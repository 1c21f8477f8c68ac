"""Gradient clipping: clip_grad_norm_ (scale all gradients so their joint norm is at most
max_norm), clip_grad_value_ (clamp each gradient element), get_total_norm."""
import math
import warnings

from ranvier import _C
from ranvier.autograd.grad_mode import no_grad


def _grads(parameters):
    if isinstance(parameters, _C.Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def _norm(t, norm_type):
    if math.isinf(norm_type) and norm_type > 0:
        return t.abs().amax() if t.numel() else t.new_zeros(())
    if math.isinf(norm_type):
        return t.abs().amin()
    return t.norm(norm_type)


def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """The norm of all the tensors together (as if concatenated into one vector)."""
    import ranvier
    if isinstance(tensors, _C.Tensor):
        tensors = [tensors]
    tensors = list(tensors)
    norm_type = float(norm_type)
    if not tensors:
        return ranvier.tensor(0.0)
    with no_grad():
        norms = [_norm(g.detach(), norm_type).to(ranvier.float64 if g.dtype == ranvier.float64
                                                  else ranvier.float32) for g in tensors]
        total = _norm(_C.stack(norms, 0), norm_type)
    if error_if_nonfinite and not math.isfinite(float(total.item())):
        raise RuntimeError("The total norm of order %s for gradients from `parameters` is "
                           "non-finite, so it cannot be clipped. To disable this error and scale "
                           "the gradients by the non-finite norm anyway, set "
                           "`error_if_nonfinite=False`" % norm_type)
    return total


def clip_grads_with_norm_(parameters, max_norm, total_norm, foreach=None):
    """Scales the gradients by min(1, max_norm / (total_norm + 1e-6)) in place."""
    grads = _grads(parameters)
    if not grads:
        return
    with no_grad():
        coef = _C.clamp_max(max_norm / (total_norm + 1e-6), 1.0)
        for g in grads:
            g.mul_(coef.to(g.dtype))


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False,
                    foreach=None):
    """Rescales the gradients in place so that their total norm is at most max_norm; returns
    the total norm (before clipping)."""
    if isinstance(parameters, _C.Tensor):
        parameters = [parameters]
    parameters = list(parameters)
    grads = _grads(parameters)
    total = get_total_norm(grads, norm_type, error_if_nonfinite, foreach)
    clip_grads_with_norm_(parameters, float(max_norm), total, foreach)
    return total


def clip_grad_norm(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    warnings.warn("clip_grad_norm is deprecated in favour of clip_grad_norm_", FutureWarning)
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamps every gradient element into [-clip_value, clip_value] in place."""
    clip_value = float(clip_value)
    with no_grad():
        for g in _grads(parameters):
            g.clamp_(-clip_value, clip_value)
