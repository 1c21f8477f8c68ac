"""RemovableHandle for module hooks, and the gradient capture behind full backward hooks."""
import itertools


class RemovableHandle:
    """Removes a hook from the dict(s) it was registered in; also a context manager."""

    _ids = itertools.count()

    def __init__(self, *hook_dicts):
        self.id = next(RemovableHandle._ids)
        self._dicts = hook_dicts

    def remove(self):
        for d in self._dicts:
            d.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def add_hook(store, hook, prepend=False):
    handle = RemovableHandle(store)
    store[handle.id] = hook
    if prepend:
        store.move_to_end(handle.id, last=False)
    return handle


def _is_tensor(x):
    from ranvier import _C
    return isinstance(x, _C.Tensor)


class BackwardHookState:
    """One forward call's capture: grad_output from hooks on the outputs, grad_input from hooks
    on identity views of the inputs; when every input gradient has arrived the module's hooks
    run (and may replace grad_input)."""

    def __init__(self, module, hooks):
        self.module = module
        self.hooks = hooks
        self.grad_outputs = None
        self.grad_inputs = None
        self.n_in = 0
        self.pending = 0

    def wrap_inputs(self, args):
        args = list(args)
        self.n_in = len(args)
        self.grad_inputs = [None] * len(args)
        idx = [i for i, a in enumerate(args) if _is_tensor(a) and a.requires_grad]
        self.pending = len(idx)
        for i in idx:
            v = args[i].view_as(args[i])
            v.register_hook(self._input_hook(i))
            args[i] = v
        return tuple(args)

    def wrap_outputs(self, out):
        single = _is_tensor(out)
        outs = [out] if single else (list(out) if isinstance(out, (tuple, list)) else [])
        self.grad_outputs = [None] * len(outs)
        for i, o in enumerate(outs):
            if _is_tensor(o) and o.requires_grad:
                o.register_hook(self._output_hook(i))
        return out

    def _output_hook(self, i):
        def hook(g):
            self.grad_outputs[i] = g
            if self.pending == 0:  # no input needs a gradient: report now, with grad_input None
                self._run(tuple(self.grad_inputs) or (None,))
        return hook

    def _input_hook(self, i):
        def hook(g):
            self.grad_inputs[i] = g
            self.pending -= 1
            if self.pending == 0:
                new = self._run(tuple(self.grad_inputs))
                if new is not None:
                    return new[i]
            return None
        return hook

    def _run(self, grad_input):
        grad_output = tuple(self.grad_outputs)
        result = None
        for hook in list(self.hooks.values()):
            r = hook(self.module, grad_input, grad_output)
            if r is not None:
                r = tuple(r) if isinstance(r, (tuple, list)) else (r,)
                if len(r) != len(grad_input):
                    raise RuntimeError("backward hook returned %d values, expected %d"
                                       % (len(r), len(grad_input)))
                grad_input = result = r
        return result
