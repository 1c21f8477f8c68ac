"""ranvier.autograd: backward, grad, grad modes, gradcheck and gradgradcheck."""
from ranvier import _C
from ranvier.autograd.grad_mode import (no_grad, enable_grad, set_grad_enabled, inference_mode,
                                        is_grad_enabled)
from ranvier.autograd.gradcheck import gradcheck, gradgradcheck


def _as_list(x):
    if x is None:
        return []
    if isinstance(x, _C.Tensor):
        return [x]
    return list(x)


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulates the gradients of tensors into the .grad of the leaves."""
    tensors = _as_list(tensors)
    grads = _as_list(grad_tensors)
    if retain_graph is None:
        retain_graph = create_graph
    _C._backward(tensors, grads, bool(retain_graph), bool(create_graph), _as_list(inputs))


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         only_inputs=True, allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """The gradients of outputs with respect to inputs, as a tuple (no .grad is touched)."""
    outputs = _as_list(outputs)
    single = isinstance(inputs, _C.Tensor)
    inputs = _as_list(inputs)
    grads = _as_list(grad_outputs)
    if retain_graph is None:
        retain_graph = create_graph
    if allow_unused is None:
        allow_unused = materialize_grads
    result = _C._grad(outputs, inputs, grads, bool(retain_graph), bool(create_graph),
                      bool(allow_unused))
    if materialize_grads:
        import ranvier
        result = tuple(ranvier.zeros_like(i) if r is None else r for r, i in zip(result, inputs))
    return result
