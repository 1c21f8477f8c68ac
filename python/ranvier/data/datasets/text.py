"""Language-modelling datasets from a text file: TextFile (character level: the vocabulary is
the sorted set of characters of the file; or byte level: the 256 byte values) and CharCorpus
(the character-level alias). The encoded file is split into a train part and a validation
part (the last `val_fraction`); item i is (x, y), two int64 tensors of seq_len tokens with y
shifted by one: x = tokens[s:s+seq_len], y = tokens[s+1:s+seq_len+1], s = i * stride."""
import os

import ranvier
from ranvier.data.dataset import Dataset

__all__ = ["TextFile", "CharCorpus"]


class TextFile(Dataset):
    """Windows of a text file for next-token prediction (see the module docstring).
    level: 'char' or 'byte'; stride defaults to seq_len (non-overlapping windows)."""

    def __init__(self, path, seq_len=128, split="train", val_fraction=0.1, level="char",
                 stride=None, encoding="utf-8"):
        import numpy as np
        if level not in ("char", "byte"):
            raise ValueError(f"TextFile: level must be 'char' or 'byte', got {level!r}")
        if split not in ("train", "val"):
            raise ValueError(f"TextFile: split must be 'train' or 'val', got {split!r}")
        if not 0.0 <= val_fraction < 1.0:
            raise ValueError(f"TextFile: val_fraction must be in [0, 1), got {val_fraction}")
        if int(seq_len) < 1:
            raise ValueError(f"TextFile: seq_len must be positive, got {seq_len}")
        self.path, self.seq_len, self.split, self.level = str(path), int(seq_len), split, level
        self.stride = int(stride) if stride is not None else self.seq_len
        if self.stride < 1:
            raise ValueError(f"TextFile: stride must be positive, got {stride}")
        try:
            with open(os.path.expanduser(self.path), "rb") as f:
                raw = f.read()
        except OSError as e:
            raise RuntimeError(f"TextFile: cannot read {self.path}: {e}") from e
        if level == "byte":
            self.vocab = [bytes([i]) for i in range(256)]
            tokens = np.frombuffer(raw, dtype=np.uint8).astype(np.int64)
            self._stoi = None
        else:
            try:
                text = raw.decode(encoding)
            except UnicodeDecodeError as e:
                raise RuntimeError(f"TextFile: {self.path} is not valid {encoding} text ({e}); "
                                   "use level='byte' for arbitrary files") from e
            self.vocab = sorted(set(text))
            self._stoi = {c: i for i, c in enumerate(self.vocab)}
            codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
            lut_keys = np.array([ord(c) for c in self.vocab], dtype=np.uint32)
            tokens = np.searchsorted(lut_keys, codes).astype(np.int64)
        n_val = int(len(tokens) * val_fraction)
        part = tokens[:len(tokens) - n_val] if split == "train" else tokens[len(tokens) - n_val:]
        if len(part) < self.seq_len + 1:
            raise ValueError(f"TextFile: the {split} part of {self.path} has {len(part)} tokens, "
                             f"fewer than seq_len + 1 = {self.seq_len + 1}")
        self.tokens = ranvier.from_numpy(np.ascontiguousarray(part))
        self._n = (len(part) - self.seq_len - 1) // self.stride + 1

    @property
    def vocab_size(self):
        return len(self.vocab)

    def encode(self, text):
        """str (char level) or bytes/str (byte level) -> int64 tensor of token ids."""
        import numpy as np
        if self.level == "byte":
            data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
            return ranvier.from_numpy(np.frombuffer(data, dtype=np.uint8).astype(np.int64))
        try:
            ids = [self._stoi[c] for c in text]
        except KeyError as e:
            raise ValueError(f"TextFile.encode: character {e.args[0]!r} is not in the "
                             "vocabulary") from None
        return ranvier.tensor(ids, dtype=ranvier.int64)

    def decode(self, ids):
        """Token ids (tensor or sequence) -> str (byte level: decoded as UTF-8, errors
        replaced)."""
        if isinstance(ids, ranvier.Tensor):
            ids = ids.tolist()
        if isinstance(ids, int):
            ids = [ids]
        n = len(self.vocab)
        bad = [i for i in ids if not 0 <= int(i) < n]
        if bad:
            raise ValueError(f"TextFile.decode: token ids {bad[:5]} out of range [0, {n})")
        if self.level == "byte":
            return bytes(int(i) for i in ids).decode("utf-8", errors="replace")
        return "".join(self.vocab[int(i)] for i in ids)

    def __len__(self):
        return self._n

    def __getitem__(self, index):
        if index < 0:
            index += self._n
        if not 0 <= index < self._n:
            raise IndexError(f"TextFile: index {index} out of range for {self._n} windows")
        s = index * self.stride
        chunk = self.tokens[s:s + self.seq_len + 1]
        return chunk[:-1].clone(), chunk[1:].clone()


class CharCorpus(TextFile):
    """Character-level TextFile (level='char')."""

    def __init__(self, path, seq_len=128, split="train", val_fraction=0.1, stride=None,
                 encoding="utf-8"):
        super().__init__(path, seq_len=seq_len, split=split, val_fraction=val_fraction,
                         level="char", stride=stride, encoding=encoding)
