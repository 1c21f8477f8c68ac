"""Lazy layers: LazyLinear, LazyConv1d/2d, LazyConvTranspose1d/2d, LazyBatchNorm1d/2d/3d.

A lazy layer is built without its input size: its parameters (and BatchNorm's running stats)
are UninitializedParameter / UninitializedBuffer placeholders. The first forward reads the input
size (in_features from input.shape[-1], channels from the channel dim), materialises them with
the layer's usual default initialisation and turns the module into the plain layer class
(LazyLinear -> Linear, ...). Loading a state_dict into a lazy module materialises it with the
checkpoint's shapes first. state_dict() of a module still uninitialised holds the placeholders;
an optimizer must be built after the first forward (nn.parameter.is_lazy tells placeholders).
"""
import ranvier
from ranvier import _C
from ranvier.nn.modules.batchnorm import BatchNorm1d, BatchNorm2d, BatchNorm3d
from ranvier.nn.modules.conv import Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d
from ranvier.nn.modules.linear import Linear
from ranvier.nn.parameter import UninitializedBuffer, UninitializedParameter, is_lazy

__all__ = ["LazyModuleMixin", "LazyLinear", "LazyConv1d", "LazyConv2d", "LazyConvTranspose1d",
           "LazyConvTranspose2d", "LazyBatchNorm1d", "LazyBatchNorm2d", "LazyBatchNorm3d"]


class LazyModuleMixin(_C._ModuleBase):
    """Mixin for modules whose parameter shapes are inferred from the first input; subclasses
    define initialize_parameters(input) and cls_to_become. It derives from Module's C base so
    that LazyX(LazyModuleMixin, X) has X's instance layout, which the switch of __class__ to
    cls_to_become requires."""
    cls_to_become = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._initialize_hook = self.register_forward_pre_hook(self._infer_parameters)

    def has_uninitialized_params(self):
        return any(is_lazy(t) for t in list(self._parameters.values()) +
                   list(self._buffers.values()))

    def _materialize_buffer(self, name, shape, fill):
        b = self._buffers[name]
        if isinstance(b, UninitializedBuffer):
            self._buffers[name] = ranvier.full(tuple(shape), fill, dtype=b._lazy_dtype)

    def _infer_parameters(self, module, args):
        if not args:
            raise RuntimeError("%s: the first forward needs the input as a positional argument "
                               "to infer the parameter shapes" % type(self).__name__)
        with ranvier.no_grad():
            self.initialize_parameters(*args)
        if self.has_uninitialized_params():
            raise RuntimeError("%s: module %s has not been fully initialized"
                               % (type(self).__name__, self._get_name()))
        self._finish()

    def _finish(self):
        self._initialize_hook.remove()
        del self._initialize_hook
        if self.cls_to_become is not None:
            self.__class__ = self.cls_to_become

    def _apply(self, fn, recurse=True):
        # placeholder buffers stay placeholders, taking on the dtype fn gives them
        lazy = {k: b for k, b in self._buffers.items() if isinstance(b, UninitializedBuffer)}
        for k in lazy:
            self._buffers[k] = None
        try:
            super()._apply(fn, recurse)
        finally:
            for k, b in lazy.items():
                self._buffers[k] = UninitializedBuffer(dtype=fn(b).dtype)
        return self

    def _sync_from_params(self):
        """After loading: sets the inferred sizes from the parameters' shapes; returns an error
        text when they contradict the sizes given at construction."""
        return None

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        for name, p in self._parameters.items():
            if p is not None:
                destination[prefix + name] = p if (keep_vars or is_lazy(p)) else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers_set:
                destination[prefix + name] = b if (keep_vars or is_lazy(b)) else b.detach()

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        lazy_left = False
        for name, cur in list(self._parameters.items()) + list(self._buffers.items()):
            key = prefix + name
            if not is_lazy(cur) or key not in state_dict:
                continue
            src = state_dict[key]
            if is_lazy(src) or not isinstance(src, ranvier.Tensor):
                lazy_left = True
                continue
            if isinstance(cur, UninitializedParameter):
                cur.materialize(src.shape, dtype=src.dtype if src.is_floating_point() else None)
            else:
                self._buffers[name] = ranvier.zeros(tuple(src.shape), dtype=cur._lazy_dtype)
        if not self.has_uninitialized_params():
            err = self._sync_from_params()
            if err:
                error_msgs.append("size mismatch for %s%s" % (prefix, err))
                return
        # placeholders read from a lazy checkpoint stay placeholders
        saved = {}
        for name, cur in list(self._parameters.items()) + list(self._buffers.items()):
            if is_lazy(cur):
                saved[name] = cur
                (self._parameters if name in self._parameters else self._buffers)[name] = None
        try:
            super()._load_from_state_dict(state_dict, prefix, local_metadata, strict,
                                          missing_keys, unexpected_keys, error_msgs)
        finally:
            for name, cur in saved.items():
                (self._parameters if name in self._parameters else self._buffers)[name] = cur
                if prefix + name in unexpected_keys:
                    unexpected_keys.remove(prefix + name)
        if not lazy_left and not self.has_uninitialized_params() and hasattr(
                self, "_initialize_hook"):
            self._finish()


class LazyLinear(LazyModuleMixin, Linear):
    """Linear whose in_features is inferred from input.shape[-1] on the first forward."""
    cls_to_become = Linear

    def __init__(self, out_features, bias=True, device=None, dtype=None):
        super().__init__(0, 0, False, device=device, dtype=dtype)
        self.weight = UninitializedParameter(device=device, dtype=dtype)
        self.out_features = out_features
        if bias:
            self.bias = UninitializedParameter(device=device, dtype=dtype)

    def reset_parameters(self):
        if not self.has_uninitialized_params() and self.in_features != 0:
            super().reset_parameters()

    def _sync_from_params(self):
        w = self.weight
        if w.dim() != 2 or w.shape[0] != self.out_features:
            return ("weight: copying a param with shape %s from checkpoint, the module was built "
                    "with out_features=%d" % (list(w.shape), self.out_features))
        self.in_features = w.shape[1]
        return None

    def initialize_parameters(self, input, *args, **kwargs):
        if self.has_uninitialized_params():
            self.in_features = input.shape[-1]
            self.weight.materialize((self.out_features, self.in_features))
            if self.bias is not None:
                self.bias.materialize((self.out_features,))
            self.reset_parameters()


class _LazyConvMixin(LazyModuleMixin):
    def _lazy_init(self, bias, device, dtype):
        if self._lazy_out % self.groups != 0:
            raise ValueError("%s: out_channels (%d) must be divisible by groups (%d)"
                             % (type(self).__name__, self._lazy_out, self.groups))
        self.weight = UninitializedParameter(device=device, dtype=dtype)
        self.out_channels = self._lazy_out
        if bias:
            self.bias = UninitializedParameter(device=device, dtype=dtype)

    def reset_parameters(self):
        if not self.has_uninitialized_params() and self.in_channels != 0:
            super().reset_parameters()

    def _sync_from_params(self):
        w = self.weight
        k = tuple(self.kernel_size)
        out = w.shape[1] * self.groups if self.transposed else w.shape[0]
        if w.dim() != self._n + 2 or tuple(w.shape[2:]) != k or out != self.out_channels:
            return ("weight: copying a param with shape %s from checkpoint, the module was built "
                    "with out_channels=%d, kernel_size=%s" % (list(w.shape), self.out_channels,
                                                              k))
        self.in_channels = w.shape[0] if self.transposed else w.shape[1] * self.groups
        return None

    def initialize_parameters(self, input, *args, **kwargs):
        if not self.has_uninitialized_params():
            return
        n = self._n
        if input.dim() not in (n + 1, n + 2):
            raise ValueError("%s: expected a %dD (unbatched) or %dD (batched) input to infer "
                             "in_channels, got input of shape %s"
                             % (type(self).__name__, n + 1, n + 2, list(input.shape)))
        c = input.shape[1] if input.dim() == n + 2 else input.shape[0]
        if c % self.groups != 0:
            raise ValueError("%s: in_channels (%d, read from the input) must be divisible by "
                             "groups (%d)" % (type(self).__name__, c, self.groups))
        self.in_channels = c
        if self.transposed:
            shape = (c, self.out_channels // self.groups) + tuple(self.kernel_size)
        else:
            shape = (self.out_channels, c // self.groups) + tuple(self.kernel_size)
        self.weight.materialize(shape)
        if self.bias is not None:
            self.bias.materialize((self.out_channels,))
        self.reset_parameters()


def _lazy_conv(base, transposed):
    class Lazy(_LazyConvMixin, base):
        cls_to_become = base
        if transposed:
            def __init__(self, out_channels, kernel_size, stride=1, padding=0, output_padding=0,
                         groups=1, bias=True, dilation=1, padding_mode="zeros", device=None,
                         dtype=None):
                self._lazy_out = out_channels
                super().__init__(0, 0, kernel_size, stride, padding, output_padding, groups,
                                 False, dilation, padding_mode, device, dtype)
                self._lazy_init(bias, device, dtype)
        else:
            def __init__(self, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                         groups=1, bias=True, padding_mode="zeros", device=None, dtype=None):
                self._lazy_out = out_channels
                super().__init__(0, 0, kernel_size, stride, padding, dilation, groups, False,
                                 padding_mode, device, dtype)
                self._lazy_init(bias, device, dtype)
    Lazy.__name__ = Lazy.__qualname__ = "Lazy" + base.__name__
    Lazy.__doc__ = "%s whose in_channels is inferred from the first input." % base.__name__
    return Lazy


LazyConv1d = _lazy_conv(Conv1d, False)
LazyConv2d = _lazy_conv(Conv2d, False)
LazyConvTranspose1d = _lazy_conv(ConvTranspose1d, True)
LazyConvTranspose2d = _lazy_conv(ConvTranspose2d, True)


class _LazyNormMixin(LazyModuleMixin):
    def __init__(self, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 device=None, dtype=None):
        super().__init__(0, eps, momentum, False, False, device=device, dtype=dtype)
        self.affine = affine
        self.track_running_stats = track_running_stats
        if affine:
            self.weight = UninitializedParameter(device=device, dtype=dtype)
            self.bias = UninitializedParameter(device=device, dtype=dtype)
        if track_running_stats:
            self.register_buffer("running_mean", UninitializedBuffer(device=device, dtype=dtype))
            self.register_buffer("running_var", UninitializedBuffer(device=device, dtype=dtype))
            self.register_buffer("num_batches_tracked", ranvier.tensor(0, dtype=ranvier.int64))

    def reset_parameters(self):
        if not self.has_uninitialized_params() and self.num_features != 0:
            super().reset_parameters()

    def _sync_from_params(self):
        t = self.weight if self.affine else self.running_mean
        if t is not None:
            self.num_features = t.shape[0]
        return None

    def initialize_parameters(self, input, *args, **kwargs):
        if not self.has_uninitialized_params():
            return
        if input.dim() < 2:
            raise ValueError("%s: expected an input with a channel dim 1, got input of shape %s"
                             % (type(self).__name__, list(input.shape)))
        self.num_features = input.shape[1]
        if self.affine:
            self.weight.materialize((self.num_features,))
            self.bias.materialize((self.num_features,))
        if self.track_running_stats:
            self._materialize_buffer("running_mean", (self.num_features,), 0.0)
            self._materialize_buffer("running_var", (self.num_features,), 1.0)
        self.reset_parameters()


class LazyBatchNorm1d(_LazyNormMixin, BatchNorm1d):
    """BatchNorm1d whose num_features is inferred from input.shape[1]."""
    cls_to_become = BatchNorm1d


class LazyBatchNorm2d(_LazyNormMixin, BatchNorm2d):
    """BatchNorm2d whose num_features is inferred from input.shape[1]."""
    cls_to_become = BatchNorm2d


class LazyBatchNorm3d(_LazyNormMixin, BatchNorm3d):
    """BatchNorm3d whose num_features is inferred from input.shape[1]."""
    cls_to_become = BatchNorm3d
