"""gradcheck and gradgradcheck: compare analytical gradients with central finite differences
(use float64 inputs)."""
from ranvier import _C


def _as_tuple(x):
    if isinstance(x, (tuple, list)):
        return tuple(x)
    return (x,)


def _flat_outputs(fn, inputs):
    out = _as_tuple(fn(*inputs))
    return [o for o in out if isinstance(o, _C.Tensor) and o.is_floating_point()]


def _numerical_jacobian(fn, inputs, idx, eps):
    """d outputs / d inputs[idx] by central differences; rows = input elements."""
    import numpy as np
    import ranvier
    x = inputs[idx]
    with ranvier.no_grad():
        base = [o.detach().clone() for o in _flat_outputs(fn, inputs)]
        n_out = sum(o.numel() for o in base)
        jac = np.zeros((x.numel(), n_out))
        if not x.is_contiguous():
            raise ValueError("gradcheck: inputs must be contiguous")
        flat = x.detach().numpy().reshape(-1)  # shares memory with x
        for i in range(x.numel()):
            orig = float(flat[i])
            flat[i] = orig + eps
            plus = [o.detach().clone() for o in _flat_outputs(fn, inputs)]
            flat[i] = orig - eps
            minus = [o.detach().clone() for o in _flat_outputs(fn, inputs)]
            flat[i] = orig
            col = np.concatenate([(p.numpy().astype(np.float64) - m.numpy().astype(np.float64))
                                  .reshape(-1) / (2 * eps) for p, m in zip(plus, minus)]) \
                if plus else np.zeros(0)
            jac[i] = col
    return jac


def _analytical_jacobian(fn, inputs, diff_idx, create_graph=False):
    import numpy as np
    import ranvier
    outs = _flat_outputs(fn, inputs)
    n_out = sum(o.numel() for o in outs)
    jacs = [np.zeros((inputs[i].numel(), n_out)) for i in diff_idx]
    col = 0
    for o in outs:
        for j in range(o.numel()):
            g = ranvier.zeros_like(o)
            g.numpy().reshape(-1)[j] = 1.0
            grads = ranvier.autograd.grad([o], [inputs[i] for i in diff_idx], [g],
                                          retain_graph=True, allow_unused=True)
            for k, gr in enumerate(grads):
                if gr is not None:
                    jacs[k][:, col] = gr.detach().reshape(-1).numpy().astype(np.float64)
            col += 1
    return jacs


def gradcheck(func, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, **kwargs):
    """Checks func's gradients against finite differences for every input that requires grad.
    Returns True, or raises (or returns False with raise_exception=False) on a mismatch."""
    import numpy as np
    inputs = _as_tuple(inputs)
    diff_idx = [i for i, x in enumerate(inputs)
                if isinstance(x, _C.Tensor) and x.requires_grad]
    if not diff_idx:
        raise ValueError("gradcheck expects at least one input tensor to require gradient")
    for i in diff_idx:
        if inputs[i].dtype.itemsize < 8:
            import warnings
            warnings.warn("gradcheck: input %d is not float64; the check may fail from "
                          "round-off" % i)
    analytical = _analytical_jacobian(func, inputs, diff_idx)
    for k, i in enumerate(diff_idx):
        numerical = _numerical_jacobian(func, inputs, i, eps)
        a = analytical[k]
        if not np.allclose(a, numerical, atol=atol, rtol=rtol):
            if not raise_exception:
                return False
            diff = np.abs(a - numerical)
            raise RuntimeError(
                "Jacobian mismatch for output 0 with respect to input %d,\n"
                "numerical:%s\nanalytical:%s\nmax abs difference: %g"
                % (i, numerical, a, diff.max()))
    return True


def gradgradcheck(func, inputs, grad_outputs=None, eps=1e-6, atol=1e-5, rtol=1e-3,
                  raise_exception=True, **kwargs):
    """Checks second derivatives: gradcheck of the function that maps (inputs, grad_outputs)
    to the first derivatives computed with create_graph=True."""
    import numpy as np
    import ranvier
    inputs = _as_tuple(inputs)
    diff_idx = [i for i, x in enumerate(inputs)
                if isinstance(x, _C.Tensor) and x.requires_grad]
    outs = _flat_outputs(func, inputs)
    if grad_outputs is None:
        gen = np.random.default_rng(0)
        grad_outputs = [ranvier.tensor(gen.standard_normal(tuple(o.shape)), dtype=o.dtype)
                        .requires_grad_() for o in outs]
    grad_outputs = list(_as_tuple(grad_outputs))
    n_in = len(inputs)

    def first_derivative(*args):
        xs = args[:n_in]
        gos = args[n_in:]
        with ranvier.enable_grad():
            ys = _flat_outputs(func, xs)
            grads = ranvier.autograd.grad(ys, [xs[i] for i in diff_idx], list(gos),
                                          create_graph=True, allow_unused=True)
        return tuple(g for g in grads if g is not None)

    return gradcheck(first_derivative, tuple(inputs) + tuple(grad_outputs), eps=eps, atol=atol,
                     rtol=rtol, raise_exception=raise_exception)
