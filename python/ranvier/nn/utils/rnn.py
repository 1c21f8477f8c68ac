"""Variable-length sequences: PackedSequence, pack_padded_sequence, pad_packed_sequence,
pad_sequence and pack_sequence.

A PackedSequence holds the time-major concatenation of the still-running batch entries at each
step (entries sorted by decreasing length), the number of entries per step (batch_sizes), and
the permutation to and from the caller's batch order."""
from collections import namedtuple

import ranvier


class PackedSequence(namedtuple("PackedSequence",
                                ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])):
    """data (sum(lengths), *), batch_sizes (max_len,) int64, sorted/unsorted indices or None."""

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None and sorted_indices is not None:
            unsorted_indices = _invert(sorted_indices)
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs):
        return type(self)(self.data.to(*args, **kwargs), self.batch_sizes,
                          self.sorted_indices, self.unsorted_indices)

    @property
    def is_cuda(self):
        return self.data.is_cuda


def _invert(perm):
    idx = [int(v) for v in perm.tolist()]
    inv = [0] * len(idx)
    for pos, v in enumerate(idx):
        inv[v] = pos
    return ranvier.tensor(inv, dtype=ranvier.int64)


def _as_lengths(lengths):
    if isinstance(lengths, ranvier.Tensor):
        if lengths.dim() != 1:
            raise RuntimeError("pack_padded_sequence: lengths must be a 1-D tensor, got shape %s"
                               % list(lengths.shape))
        return [int(v) for v in lengths.tolist()]
    return [int(v) for v in lengths]


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """Packs a padded (T, B, *) (or (B, T, *) if batch_first) tensor given per-entry lengths."""
    lens = _as_lengths(lengths)
    bdim = 0 if batch_first else 1
    if input.dim() < 2:
        raise RuntimeError("pack_padded_sequence: input must have at least 2 dims, got shape %s"
                           % list(input.shape))
    if len(lens) != input.shape[bdim]:
        raise RuntimeError("pack_padded_sequence: expected %d lengths (batch size of input %s), "
                           "got %d" % (input.shape[bdim], list(input.shape), len(lens)))
    if enforce_sorted:
        if any(lens[i] < lens[i + 1] for i in range(len(lens) - 1)):
            raise RuntimeError("pack_padded_sequence: `lengths` array must be sorted in "
                               "decreasing order when `enforce_sorted` is True, got %s" % lens)
        sorted_indices = None
        order = list(range(len(lens)))
    else:
        order = sorted(range(len(lens)), key=lambda i: -lens[i])
        sorted_indices = ranvier.tensor(order, dtype=ranvier.int64)
        input = input.index_select(bdim, sorted_indices)
    lens = [lens[i] for i in order]
    if lens and lens[-1] <= 0:
        raise RuntimeError("pack_padded_sequence: Length of all samples has to be greater than "
                           "0, but found an element in 'lengths' that is <= 0")
    T = input.shape[1 - bdim]
    if lens and lens[0] > T:
        raise RuntimeError("pack_padded_sequence: a length of %d exceeds the sequence length "
                           "%d of input %s" % (lens[0], T, list(input.shape)))
    if batch_first:
        input = input.transpose(0, 1)
    max_len = lens[0] if lens else 0
    batch_sizes = [sum(1 for v in lens if v > t) for t in range(max_len)]
    data = ranvier.cat([input[t, :batch_sizes[t]] for t in range(max_len)], 0)
    return PackedSequence(data, ranvier.tensor(batch_sizes, dtype=ranvier.int64),
                          sorted_indices, None)


def _packed_to_padded_sorted(sequence, padding_value=0.0, total_length=None):
    """(T, B, *) padded data in sorted batch order and the sorted lengths (Python ints)."""
    data = sequence.data
    bs = [int(v) for v in sequence.batch_sizes.tolist()]
    B = bs[0] if bs else 0
    T = len(bs)
    if total_length is not None:
        if total_length < T:
            raise ValueError("pad_packed_sequence: Expected total_length to be at least the "
                             "length of the longest sequence (%d), got %d" % (T, total_length))
        T = total_length
    rows, off = [], 0
    tail = tuple(data.shape[1:])
    for t in range(T):
        n = bs[t] if t < len(bs) else 0
        step = data[off:off + n]
        off += n
        if n < B:
            fill = ranvier.full((B - n,) + tail, padding_value, dtype=data.dtype)
            step = ranvier.cat([step, fill], 0)
        rows.append(step)
    padded = ranvier.stack(rows, 0) if rows else ranvier.zeros(0, B, *tail, dtype=data.dtype)
    lengths = [sum(1 for v in bs if v > b) for b in range(B)]
    return padded, lengths


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """Inverse of pack_padded_sequence: returns (padded, lengths int64) in the original order."""
    padded, lengths = _packed_to_padded_sorted(sequence, padding_value, total_length)
    lengths = ranvier.tensor(lengths, dtype=ranvier.int64)
    if sequence.unsorted_indices is not None:
        padded = padded.index_select(1, sequence.unsorted_indices)
        lengths = lengths.index_select(0, sequence.unsorted_indices)
    if batch_first:
        padded = padded.transpose(0, 1)
    return padded, lengths


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stacks tensors of shape (L_i, *) into (max L, B, *) (or (B, max L, *)), padding with
    padding_value on padding_side ('right' or 'left')."""
    if padding_side not in ("right", "left"):
        raise ValueError("pad_sequence: padding_side must be 'left' or 'right', got %r"
                         % (padding_side,))
    if len(sequences) == 0:
        raise RuntimeError("pad_sequence: received an empty list of sequences")
    tail = tuple(sequences[0].shape[1:])
    for s in sequences:
        if s.dim() == 0 or tuple(s.shape[1:]) != tail:
            raise RuntimeError("pad_sequence: all sequences must have the same trailing shape "
                               "%s, got %s" % (list(tail), list(s.shape)))
    T = max(s.shape[0] for s in sequences)
    cols = []
    for s in sequences:
        n = T - s.shape[0]
        if n:
            fill = ranvier.full((n,) + tail, padding_value, dtype=s.dtype)
            s = ranvier.cat([s, fill] if padding_side == "right" else [fill, s], 0)
        cols.append(s)
    return ranvier.stack(cols, 0 if batch_first else 1)


def pack_sequence(sequences, enforce_sorted=True):
    """Packs a list of (L_i, *) tensors."""
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    """Splits a padded batch back into a list of (L_i, *) tensors."""
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    return [padded_sequences[i, :int(n)] for i, n in enumerate(_as_lengths(lengths))]


def unpack_sequence(packed_sequences):
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
