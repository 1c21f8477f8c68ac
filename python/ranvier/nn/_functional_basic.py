"""Functional linear, bilinear, embedding and embedding_bag."""
from ranvier import _C


def _shape(t):
    return "x".join(str(s) for s in t.shape) if t.dim() else "[]"


def linear(input, weight, bias=None):
    """input @ weight.T + bias over any number of leading dims (weight: (out, in)); one C++
    call (the bias goes into the GEMM output)."""
    return _C._linear(input, weight, bias)


def bilinear(input1, input2, weight, bias=None):
    """y[..., o] = sum_ij input1[..., i] * weight[o, i, j] * input2[..., j] + bias[o]."""
    if weight.dim() != 3:
        raise RuntimeError("bilinear: weight must be 3-D (out, in1, in2), got shape %s"
                           % list(weight.shape))
    out_f, in1, in2 = weight.shape
    if input1.dim() == 0 or input1.shape[-1] != in1 or input2.dim() == 0 or \
            input2.shape[-1] != in2 or tuple(input1.shape[:-1]) != tuple(input2.shape[:-1]):
        raise RuntimeError("bilinear: input shapes %s and %s do not match weight %s"
                           % (list(input1.shape), list(input2.shape), list(weight.shape)))
    lead = tuple(input1.shape[:-1])
    x1 = input1.reshape(-1, in1)
    x2 = input2.reshape(-1, in2)
    w = weight.permute(1, 0, 2).reshape(in1, out_f * in2)
    tmp = _C.matmul(x1, w).reshape(-1, out_f, in2)
    out = (tmp * x2.unsqueeze(1)).sum(-1)
    if bias is not None:
        out = out + bias
    return out.reshape(lead + (out_f,))


def _check_indices(op, input, num):
    import ranvier
    if input.dtype not in (ranvier.int64, ranvier.int32):
        raise RuntimeError("%s: expected indices of type int64 or int32, but got %s"
                           % (op, input.dtype))
    if input.numel():
        hi = int(input.max().item())
        lo = int(input.min().item())
        if hi >= num or lo < 0:
            bad = hi if hi >= num else lo
            raise IndexError("%s: index %d is out of range for a weight with %d rows"
                             % (op, bad, num))


def _renorm_rows_(weight, input, max_norm, norm_type):
    import ranvier
    with ranvier.no_grad():
        rows = _C.unique(input.reshape(-1))
        sel = weight.index_select(0, rows)
        norms = sel.norm(norm_type, 1, True)
        scale = _C.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0).to(weight.dtype)
        weight[rows] = sel * scale


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0,
              scale_grad_by_freq=False, sparse=False):
    """Rows of weight picked by the integer indices in input: shape input.shape + (dim,)."""
    if weight.dim() != 2:
        raise RuntimeError("embedding: weight must be 2-D, got shape %s" % list(weight.shape))
    if sparse:
        raise NotImplementedError("embedding: sparse gradients are not supported")
    num = weight.shape[0]
    _check_indices("embedding", input, num)
    if padding_idx is not None:
        if padding_idx < 0:
            padding_idx += num
        if not 0 <= padding_idx < num:
            raise ValueError("embedding: padding_idx must be within the %d rows of weight" % num)
    if max_norm is not None:
        _renorm_rows_(weight, input, max_norm, norm_type)
    if not scale_grad_by_freq:
        # one op; its node lets a following projection work on the distinct rows only
        # (Note [Embedding projection])
        return _C._embedding(weight, input, -1 if padding_idx is None else padding_idx)
    flat = input.reshape(-1)
    out = weight.index_select(0, flat)
    if padding_idx is not None and out.requires_grad:
        keep = (flat != padding_idx).unsqueeze(1)
        out = _C.where(keep, out, out.detach())
    if out.requires_grad and flat.numel():
        # same values; the gradient of each looked-up row is divided by how often its index
        # occurs in the batch
        import numpy as np
        idx = flat.numpy()
        counts = np.bincount(idx, minlength=num)
        scale = _C.from_numpy((1.0 / counts[idx]).astype(np.float64)).to(out.dtype).unsqueeze(1)
        fixed = out.detach()
        out = fixed + (out - fixed) * scale
    return out.reshape(tuple(input.shape) + (weight.shape[1],))


def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type=2, scale_grad_by_freq=False,
                  mode="mean", sparse=False, per_sample_weights=None, include_last_offset=False,
                  padding_idx=None):
    """Sum / mean / max of the embeddings of each bag: input 2-D (bags of equal size) or 1-D
    with offsets (start of each bag)."""
    import ranvier
    if mode not in ("sum", "mean", "max"):
        raise ValueError("embedding_bag: mode has to be one of sum, mean or max, got %r" % mode)
    if per_sample_weights is not None and mode != "sum":
        raise NotImplementedError("embedding_bag: per_sample_weights was not None. "
                                  "per_sample_weights is only supported for mode='sum' (got "
                                  "mode='%s')" % mode)
    if input.dim() == 2:
        if offsets is not None:
            raise ValueError("embedding_bag: offsets has to be None if input is 2-D")
        b, n = input.shape
        offsets = ranvier.arange(0, b * n, n, device=input.device) if n else \
            ranvier.zeros(b, dtype=ranvier.int64, device=input.device)
        flat_in = input.reshape(-1)
        psw = per_sample_weights.reshape(-1) if per_sample_weights is not None else None
    elif input.dim() == 1:
        if offsets is None or offsets.dim() != 1:
            raise ValueError("embedding_bag: offsets has to be a 1-D tensor when input is 1-D")
        flat_in, psw = input, per_sample_weights
    else:
        raise ValueError("embedding_bag: input has to be 1-D or 2-D, got %d-D" % input.dim())
    emb = embedding(flat_in, weight, None, max_norm, norm_type, scale_grad_by_freq, sparse)
    if psw is not None:
        emb = emb * psw.unsqueeze(1)
    starts = [int(v) for v in offsets.tolist()]
    if include_last_offset:
        ends = starts[1:]
        starts = starts[:-1]
    else:
        ends = starts[1:] + [flat_in.shape[0]]
    idx = flat_in.tolist()
    bags = []
    for s, e in zip(starts, ends):
        if padding_idx is not None:
            rows = [i for i in range(s, e) if idx[i] != padding_idx]
        else:
            rows = list(range(s, e))
        if not rows:
            bags.append(weight.new_zeros(weight.shape[1]))
            continue
        part = emb.index_select(0, ranvier.tensor(rows, dtype=ranvier.int64, device=emb.device))
        if mode == "sum":
            bags.append(part.sum(0))
        elif mode == "mean":
            bags.append(part.mean(0))
        else:
            bags.append(part.amax(0))
    if not bags:
        return weight.new_zeros(0, weight.shape[1])
    return _C.stack(bags, 0)
