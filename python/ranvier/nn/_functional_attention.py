"""Functional attention: scaled_dot_product_attention and multi_head_attention_forward.
Both are composites of existing ranvier ops (matmul, softmax, dropout), so autograd comes
from those ops."""
import math

import ranvier
from ranvier import _C
from ranvier.nn._functional_basic import linear
from ranvier.nn._functional_dropout import dropout as _dropout
from ranvier.nn._functional_loss import softmax as _softmax


def _is_bool(t):
    return t.dtype == ranvier.bool


def _bool_to_additive(mask, dtype):
    """True = take part -> 0, False -> -inf."""
    zeros = ranvier.zeros(tuple(mask.shape), dtype=dtype, device=mask.device)
    return zeros.masked_fill(mask.logical_not(), float("-inf"))


def _broadcastable(mask_shape, target):
    ms, ts = list(mask_shape), list(target)
    if len(ms) > len(ts):
        return False
    for a, b in zip(reversed(ms), reversed(ts)):
        if a != 1 and a != b:
            return False
    return True


def _batch_shape(*shapes):
    out = []
    for shp in shapes:
        shp = list(shp)
        if len(shp) > len(out):
            out = [1] * (len(shp) - len(out)) + out
        shp = [1] * (len(out) - len(shp)) + shp
        for i, (a, b) in enumerate(zip(out, shp)):
            if a != b and a != 1 and b != 1:
                raise RuntimeError("scaled_dot_product_attention: batch dims %s and %s do not "
                                   "broadcast" % (tuple(out), tuple(shp)))
            out[i] = b if a == 1 else a
    return tuple(out)


def _scores_shape(query, key, value):
    batch = _batch_shape(query.shape[:-2], key.shape[:-2], value.shape[:-2])
    return batch + (query.shape[-2], key.shape[-2])


def _fused(query, key, value, attn_mask, scale, is_causal):
    """The fused C++ kernel; leading dims (with the mask's) broadcast. The inputs go as expanded
    views (at least one batch dim): the CPU kernels read them through their strides."""
    L, S, Ev = query.shape[-2], key.shape[-2], value.shape[-1]
    mshape = () if attn_mask is None else tuple(attn_mask.shape[:-2])
    batch = _batch_shape(query.shape[:-2], key.shape[:-2], value.shape[:-2], mshape)
    unbatched = batch == ()
    batch = batch or (1,)
    q = query.expand(batch + tuple(query.shape[-2:]))
    k = key.expand(batch + tuple(key.shape[-2:]))
    v = value.expand(batch + tuple(value.shape[-2:]))
    m = None
    if attn_mask is not None:
        m = (_bool_to_additive(attn_mask, query.dtype) if _is_bool(attn_mask)
             else attn_mask)
        m = m.expand(batch + (L, S))
    out = _C._scaled_dot_product_attention(q, k, v, m, float(scale), bool(is_causal))
    return out.reshape(L, Ev) if unbatched else out


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, scale=None, enable_gqa=False):
    """softmax(query @ key^T * scale + mask) @ value over the last two dims; any leading batch
    dims (broadcast). attn_mask: bool (True = take part) or float (added to the scores)."""
    op = "scaled_dot_product_attention"
    if query.dim() < 2 or key.dim() < 2 or value.dim() < 2:
        raise RuntimeError("%s: query, key and value need at least 2 dims, got shapes %s, %s, %s"
                           % (op, tuple(query.shape), tuple(key.shape), tuple(value.shape)))
    L, E = query.shape[-2], query.shape[-1]
    S, Ek = key.shape[-2], key.shape[-1]
    if E != Ek:
        raise RuntimeError("%s: query and key must have the same last dim, got query %s and "
                           "key %s" % (op, tuple(query.shape), tuple(key.shape)))
    if value.shape[-2] != S:
        raise RuntimeError("%s: key and value must have the same sequence length (dim -2), got "
                           "key %s and value %s" % (op, tuple(key.shape), tuple(value.shape)))
    if query.dtype != key.dtype or query.dtype != value.dtype:
        raise RuntimeError("%s: query, key and value must have the same dtype, got %s, %s, %s"
                           % (op, query.dtype, key.dtype, value.dtype))
    if not query.is_floating_point():
        raise RuntimeError("%s: expected floating-point inputs, got %s" % (op, query.dtype))
    if is_causal and attn_mask is not None:
        raise RuntimeError("%s: attn_mask and is_causal cannot both be set" % op)
    scale_factor = 1.0 / math.sqrt(E) if scale is None else scale
    if attn_mask is not None and not _broadcastable(
            tuple(attn_mask.shape), _scores_shape(query, key, value)):
        raise RuntimeError("%s: attn_mask of shape %s cannot be broadcast to the attention "
                           "scores of shape %s" % (op, tuple(attn_mask.shape),
                                                   _scores_shape(query, key, value)))
    if attn_mask is not None and not _is_bool(attn_mask) and attn_mask.dtype != query.dtype:
        raise RuntimeError("%s: a float attn_mask must have the query dtype %s, got %s"
                           % (op, query.dtype, attn_mask.dtype))
    if dropout_p == 0.0 and (attn_mask is None or not attn_mask.requires_grad):
        if query.dtype in (ranvier.float32, ranvier.float64):
            return _fused(query, key, value, attn_mask, scale_factor, is_causal)
        if query.device.type != "cpu":
            # the device kernels take 16-bit inputs (flash attention where it applies), with
            # the scores and softmax in float32
            return _fused(query, key, value, attn_mask, scale_factor, is_causal)
        # float16 / bfloat16 on the CPU: the fused kernel on float32 copies (scores and softmax
        # in float32, where the unfused path rounds the scores to 16 bits), the output rounded
        # back once
        f32 = ranvier.float32
        mask = attn_mask if attn_mask is None or _is_bool(attn_mask) else attn_mask.to(f32)
        return _fused(query.to(f32), key.to(f32), value.to(f32), mask, scale_factor,
                      is_causal).to(query.dtype)
    scores = ranvier.matmul(query, key.transpose(-2, -1)) * scale_factor
    if is_causal:
        causal = ranvier.ones(L, S, dtype=ranvier.bool, device=query.device).tril()
        scores = scores.masked_fill(causal.logical_not(), float("-inf"))
    if attn_mask is not None:
        if not _broadcastable(tuple(attn_mask.shape), tuple(scores.shape)):
            raise RuntimeError("%s: attn_mask of shape %s cannot be broadcast to the attention "
                               "scores of shape %s" % (op, tuple(attn_mask.shape),
                                                       tuple(scores.shape)))
        if _is_bool(attn_mask):
            scores = scores.masked_fill(attn_mask.logical_not(), float("-inf"))
        else:
            if attn_mask.dtype != query.dtype:
                raise RuntimeError("%s: a float attn_mask must have the query dtype %s, got %s"
                                   % (op, query.dtype, attn_mask.dtype))
            scores = scores + attn_mask
    weights = _softmax(scores, dim=-1)
    if dropout_p > 0.0:
        weights = _dropout(weights, dropout_p, training=True)
    return ranvier.matmul(weights, value)


def _append_zero_column(mask):
    """The mask with one more key column of zeros / False (for an appended key), or None."""
    if mask is None:
        return None
    zeros = ranvier.zeros(tuple(mask.shape[:-1]) + (1,), dtype=mask.dtype, device=mask.device)
    return ranvier.cat([mask, zeros], dim=-1)


def _merge_masks_to_float(mask, dtype, name):
    if mask is None:
        return None
    if _is_bool(mask):  # True = not allowed to attend
        return ranvier.zeros(tuple(mask.shape), dtype=dtype, device=mask.device).masked_fill(
            mask, float("-inf"))
    if not mask.is_floating_point():
        raise RuntimeError("multi_head_attention_forward: only bool and floating types of %s "
                           "are supported, got %s" % (name, mask.dtype))
    return mask.to(dtype)


def _mha_out(out, tgt_len, bsz, embed_dim, w, b, batched):
    """(bsz*heads, L, head_dim) -> out_proj of (L, N, E) (or (L, E) unbatched)."""
    out = out.transpose(0, 1).reshape(tgt_len * bsz, embed_dim)
    out = linear(out, w, b).reshape(tgt_len, bsz, embed_dim)
    return out if batched else out.squeeze(1)


def multi_head_attention_forward(query, key, value, embed_dim_to_check, num_heads, in_proj_weight,
                                 in_proj_bias, bias_k, bias_v, add_zero_attn, dropout_p,
                                 out_proj_weight, out_proj_bias, training=True,
                                 key_padding_mask=None, need_weights=True, attn_mask=None,
                                 use_separate_proj_weight=False, q_proj_weight=None,
                                 k_proj_weight=None, v_proj_weight=None, static_k=None,
                                 static_v=None, average_attn_weights=True, is_causal=False):
    """Multi-head attention on sequence-first inputs query (L, N, E) / (L, E), key and value
    (S, N, Ek/Ev) / (S, Ek/Ev). Returns (output, weights or None)."""
    op = "multi_head_attention_forward"
    batched = query.dim() == 3
    if query.dim() not in (2, 3):
        raise RuntimeError("%s: query must be 2-D (unbatched) or 3-D (batched), got shape %s"
                           % (op, tuple(query.shape)))
    if key.dim() != query.dim() or value.dim() != query.dim():
        raise RuntimeError("%s: query, key and value must have the same number of dims, got "
                           "%s, %s, %s" % (op, tuple(query.shape), tuple(key.shape),
                                           tuple(value.shape)))
    if not batched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            if key_padding_mask.dim() != 1:
                raise RuntimeError("%s: for unbatched query, key_padding_mask must be 1-D, got "
                                   "shape %s" % (op, tuple(key_padding_mask.shape)))
            key_padding_mask = key_padding_mask.unsqueeze(0)
    tgt_len, bsz, embed_dim = query.shape
    src_len = key.shape[0]
    if embed_dim != embed_dim_to_check:
        raise RuntimeError("%s: was expecting embedding dimension of %d, but got %d"
                           % (op, embed_dim_to_check, embed_dim))
    if embed_dim % num_heads != 0:
        raise RuntimeError("%s: embed_dim %d not divisible by num_heads %d"
                           % (op, embed_dim, num_heads))
    head_dim = embed_dim // num_heads
    if key.shape[0] != value.shape[0] or key.shape[1] != value.shape[1]:
        raise RuntimeError("%s: key shape %s does not match value shape %s"
                           % (op, tuple(key.shape), tuple(value.shape)))
    if key.shape[1] != bsz:
        raise RuntimeError("%s: query batch %d does not match key batch %d (query %s, key %s)"
                           % (op, bsz, key.shape[1], tuple(query.shape), tuple(key.shape)))

    if is_causal and attn_mask is None:
        raise RuntimeError("%s: need attn_mask if specifying the is_causal hint" % op)

    # projections
    if not use_separate_proj_weight:
        if key.shape[2] != embed_dim or value.shape[2] != embed_dim:
            raise RuntimeError("%s: key/value last dim must equal embed_dim %d without separate "
                               "projection weights, got key %s value %s"
                               % (op, embed_dim, tuple(key.shape), tuple(value.shape)))
        w_q, w_k, w_v = in_proj_weight.chunk(3)
        if in_proj_bias is None:
            b_q = b_k = b_v = None
        else:
            b_q, b_k, b_v = in_proj_bias.chunk(3)
    else:
        w_q, w_k, w_v = q_proj_weight, k_proj_weight, v_proj_weight
        if key.shape[2] != w_k.shape[1] or value.shape[2] != w_v.shape[1]:
            raise RuntimeError("%s: key last dim %d / value last dim %d do not match kdim %d / "
                               "vdim %d" % (op, key.shape[2], value.shape[2], w_k.shape[1],
                                            w_v.shape[1]))
        if in_proj_bias is None:
            b_q = b_k = b_v = None
        else:
            b_q, b_k, b_v = in_proj_bias.chunk(3)
    q = linear(query, w_q, b_q)
    k = linear(key, w_k, b_k) if static_k is None else None
    v = linear(value, w_v, b_v) if static_v is None else None

    # masks
    if attn_mask is not None:
        attn_mask = _merge_masks_to_float(attn_mask, q.dtype, "attn_mask")
        if attn_mask.dim() == 2:
            if tuple(attn_mask.shape) != (tgt_len, src_len):
                raise RuntimeError("%s: the shape of the 2D attn_mask is %s, but should be %s"
                                   % (op, tuple(attn_mask.shape), (tgt_len, src_len)))
            attn_mask = attn_mask.unsqueeze(0)
        elif attn_mask.dim() == 3:
            if tuple(attn_mask.shape) != (bsz * num_heads, tgt_len, src_len):
                raise RuntimeError("%s: the shape of the 3D attn_mask is %s, but should be %s"
                                   % (op, tuple(attn_mask.shape),
                                      (bsz * num_heads, tgt_len, src_len)))
        else:
            raise RuntimeError("%s: attn_mask's dimension %d is not supported"
                               % (op, attn_mask.dim()))

    if bias_k is not None and bias_v is not None:
        k = ranvier.cat([k, bias_k.repeat(1, bsz, 1)])
        v = ranvier.cat([v, bias_v.repeat(1, bsz, 1)])
        attn_mask = _append_zero_column(attn_mask)
        key_padding_mask = _append_zero_column(key_padding_mask)

    q = q.reshape(tgt_len, bsz * num_heads, head_dim).transpose(0, 1)
    k = (static_k if static_k is not None else
         k.reshape(k.shape[0], bsz * num_heads, head_dim).transpose(0, 1))
    v = (static_v if static_v is not None else
         v.reshape(v.shape[0], bsz * num_heads, head_dim).transpose(0, 1))

    if add_zero_attn:
        zshape = (bsz * num_heads, 1, head_dim)
        k = ranvier.cat([k, ranvier.zeros(zshape, dtype=k.dtype, device=k.device)], dim=1)
        v = ranvier.cat([v, ranvier.zeros(zshape, dtype=v.dtype, device=v.device)], dim=1)
        attn_mask = _append_zero_column(attn_mask)
        key_padding_mask = _append_zero_column(key_padding_mask)
    src_len = k.shape[1]

    if key_padding_mask is not None:
        if tuple(key_padding_mask.shape) != (bsz, src_len):
            raise RuntimeError("%s: expecting key_padding_mask shape of %s, but got %s"
                               % (op, (bsz, src_len), tuple(key_padding_mask.shape)))
        if _is_bool(key_padding_mask):
            # True = ignore this key
            kpm = ranvier.zeros((bsz, src_len), dtype=q.dtype, device=q.device).masked_fill(
                key_padding_mask, float("-inf"))
        else:
            kpm = key_padding_mask.to(q.dtype)
        kpm = kpm.reshape(bsz, 1, 1, src_len).expand(bsz, num_heads, 1, src_len).reshape(
            bsz * num_heads, 1, src_len)
        attn_mask = kpm if attn_mask is None else attn_mask + kpm

    if not training:
        dropout_p = 0.0

    if not need_weights:
        out = scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=dropout_p)
        return _mha_out(out, tgt_len, bsz, embed_dim, out_proj_weight, out_proj_bias,
                        batched), None
    scores = ranvier.matmul(q * (1.0 / math.sqrt(head_dim)), k.transpose(-2, -1))
    if attn_mask is not None:
        scores = scores + attn_mask
    weights = _softmax(scores, dim=-1)
    if dropout_p > 0.0:
        weights_d = _dropout(weights, dropout_p, training=True)
    else:
        weights_d = weights
    out = _mha_out(ranvier.matmul(weights_d, v), tgt_len, bsz, embed_dim, out_proj_weight,
                   out_proj_bias, batched)
    w = weights.reshape(bsz, num_heads, tgt_len, src_len)
    if average_attn_weights:
        w = w.mean(dim=1)
    if not batched:
        w = w.squeeze(0)
    return out, w
