"""The autocast op lists and where they are hooked (Note [Autocast hooks] in
csrc/python/autocast.h).

Each row: the callable's name, its policy on 'cpu', its policy on 'cuda'. Policies:
  lower    floating inputs cast to the region's dtype (float64 inputs are left alone)
  fp32     float16 / bfloat16 inputs cast to float32 (not when the call names a dtype)
  fp32_dtype  called with dtype=float32 (not when the call names a dtype), inputs untouched:
           the op computes its float32 result from 16-bit inputs itself (cross_entropy, whose
           CUDA kernel reads 16-bit logits in place)
  promote  floating inputs cast to the widest floating dtype among them
  banned   raises (binary_cross_entropy on cuda)
  None     untouched on that device
The lists follow PyTorch 2.13's for the ops ranvier has: the cuda lists are ATen's
lower-precision / fp32 / fp32-set-opt-dtype / promote lists; the cpu lists are narrower (the
matrix products, convolutions, prelu and attention in lower precision; the losses and prod in
float32). A composite op that PyTorch does not list but whose PyTorch decomposition lands in
float32 through a listed op (cross_entropy, softmin, the upsample aliases on cuda) is listed
here with that outcome, since ranvier does not re-cast the ops inside a composition.
"""
L, F32, F32D, P, B = "lower", "fp32", "fp32_dtype", "promote", "banned"

# ranvier.<name> (bound in C++; also set on ranvier._C)
FUNCTIONS = [
    ("matmul", L, L), ("mm", L, L), ("bmm", L, L), ("addmm", L, L), ("mv", None, L),
    ("prod", F32, F32),
    ("acos", None, F32), ("arccos", None, F32), ("asin", None, F32), ("arcsin", None, F32),
    ("cosh", None, F32), ("sinh", None, F32), ("tan", None, F32), ("exp", None, F32),
    ("expm1", None, F32), ("log", None, F32), ("log10", None, F32), ("log2", None, F32),
    ("log1p", None, F32), ("reciprocal", None, F32), ("rsqrt", None, F32), ("pow", None, F32),
    ("softplus", None, F32), ("logsumexp", None, F32), ("norm", None, F32),
    ("softmax", None, F32), ("log_softmax", None, F32), ("cumsum", None, F32),
    ("cumprod", None, F32), ("sum", None, F32),
    ("addcmul", None, P), ("addcdiv", None, P), ("atan2", None, P), ("arctan2", None, P),
    ("dot", None, P), ("index_put", None, P), ("scatter_add", None, P),
]

# Tensor methods (and operators)
METHODS = [
    ("matmul", L, L), ("__matmul__", L, L), ("__rmatmul__", L, L), ("mm", L, L), ("bmm", L, L),
    ("addmm", L, L), ("mv", None, L),
    ("prod", F32, F32),
    ("acos", None, F32), ("arccos", None, F32), ("asin", None, F32), ("arcsin", None, F32),
    ("cosh", None, F32), ("sinh", None, F32), ("tan", None, F32), ("exp", None, F32),
    ("expm1", None, F32), ("log", None, F32), ("log10", None, F32), ("log2", None, F32),
    ("log1p", None, F32), ("reciprocal", None, F32), ("rsqrt", None, F32), ("pow", None, F32),
    ("__pow__", None, F32), ("__rpow__", None, F32), ("logsumexp", None, F32),
    ("norm", None, F32), ("softmax", None, F32), ("log_softmax", None, F32),
    ("cumsum", None, F32), ("cumprod", None, F32), ("sum", None, F32),
    ("addcmul", None, P), ("addcdiv", None, P), ("atan2", None, P), ("arctan2", None, P),
    ("dot", None, P), ("index_put", None, P), ("scatter_add", None, P),
]

# ranvier.nn.functional.<name>, with the private module that defines it
FUNCTIONAL = [
    ("_functional_basic", "linear", L, L), ("_functional_basic", "bilinear", None, P),
    ("_functional_conv", "conv1d", L, L), ("_functional_conv", "conv2d", L, L),
    ("_functional_conv", "conv_transpose1d", L, L), ("_functional_conv", "conv_transpose2d", L, L),
    ("_functional_activation", "prelu", L, L),
    ("_functional_attention", "scaled_dot_product_attention", L, L),
    ("_functional_activation", "softplus", None, F32),
    ("_functional_norm", "layer_norm", None, F32), ("_functional_norm", "group_norm", None, F32),
    ("_functional_norm", "rms_norm", None, F32),
    ("_functional_loss", "softmax", None, F32), ("_functional_loss", "log_softmax", None, F32),
    ("_functional_loss", "softmin", None, F32),
    ("_functional_loss", "cross_entropy", F32D, F32D), ("_functional_loss", "nll_loss", F32, F32),
    ("_functional_loss", "mse_loss", F32, F32), ("_functional_loss", "l1_loss", F32, F32),
    ("_functional_loss", "smooth_l1_loss", F32, F32), ("_functional_loss", "huber_loss", F32, F32),
    ("_functional_loss", "kl_div", F32, F32),
    ("_functional_loss", "margin_ranking_loss", F32, F32),
    ("_functional_loss", "hinge_embedding_loss", F32, F32),
    ("_functional_loss", "cosine_embedding_loss", F32, F32),
    ("_functional_loss", "triplet_margin_loss", F32, F32),
    ("_functional_loss", "poisson_nll_loss", F32, F32),
    ("_functional_loss", "binary_cross_entropy_with_logits", F32, F32),
    ("_functional_loss", "binary_cross_entropy", F32, B),
    ("_functional_ctc", "ctc_loss", F32, None),
    ("_functional_upsample", "interpolate", None, F32),
    ("_functional_upsample", "upsample", None, F32),
    ("_functional_upsample", "upsample_nearest", None, F32),
    ("_functional_upsample", "upsample_bilinear", None, F32),
]


def _policy(p):
    return "none" if p is None else p


_installed = False
MISSING = []  # table rows whose callable was not found (tests/test_amp_autocast.py checks)


def install():
    """Wraps every listed callable in an autocast hook (once, at import of ranvier). A row whose
    callable does not exist is recorded in MISSING rather than failing the import."""
    global _installed
    if _installed:
        return
    _installed = True
    import importlib

    import ranvier
    from ranvier import _C
    from ranvier.nn import functional

    hook = _C._autocast_hook
    for name, cpu, cuda in FUNCTIONS:
        fn = getattr(_C, name, None)
        if fn is None:
            MISSING.append(name)
            continue
        wrapped = hook(fn, name, _policy(cpu), _policy(cuda))
        setattr(_C, name, wrapped)
        if getattr(ranvier, name, None) is fn:
            setattr(ranvier, name, wrapped)
    for name, cpu, cuda in METHODS:
        raw = ranvier.Tensor.__dict__.get(name)
        if raw is None:
            MISSING.append("Tensor." + name)
            continue
        fn = getattr(raw, "__func__", raw)  # pybind11 methods are instancemethod objects
        setattr(ranvier.Tensor, name, hook(fn, "Tensor." + name, _policy(cpu), _policy(cuda)))
    for module, name, cpu, cuda in FUNCTIONAL:
        mod = importlib.import_module("ranvier.nn." + module)
        fn = getattr(mod, name, None)
        if fn is None:
            MISSING.append("nn.functional." + name)
            continue
        wrapped = hook(fn, name, _policy(cpu), _policy(cuda))
        setattr(mod, name, wrapped)
        if getattr(functional, name, None) is fn:
            setattr(functional, name, wrapped)
