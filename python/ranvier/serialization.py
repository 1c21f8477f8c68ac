"""Checkpoints without pickle: ranvier.save / ranvier.load.

A checkpoint is one safetensors file. Its tensors are stored under readable names (the dict
path: "model.fc.weight", "state.0.exp_avg"); everything else about the saved object (dicts with
str or int keys, lists vs tuples, numbers, strings, None, sizes, dtypes) is a JSON document in
the file's metadata under "ranvier.structure" that refers to the tensors by name. Reading
never runs code: the structure is plain JSON decoded by the fixed rules below, and the tensors
are read by the validating C++ reader (csrc/serialize/safetensors.cpp).

Structure nodes: null / true / false / integers / finite floats / strings stand for themselves;
a JSON list is a Python list; every other value is an object with one tag:
  {"$tuple": [...]}, {"$dict": {str: node}} or {"$dict": [[key, node], ...]} (non-str keys),
  {"$odict": ...} (OrderedDict, same two forms), {"$float": "nan" | "inf" | "-inf"},
  {"$tensor": name, "requires_grad": bool, "parameter": bool, "device": str} (flags optional),
  {"$size": [ints]}, {"$dtype": "float32"}, {"$device": "cpu"}.
"""
import json
import math
import numbers
import os
from collections import OrderedDict

from ranvier import _C
from ranvier._size import Size

__all__ = ["save", "load", "CheckpointError"]

STRUCTURE_KEY = "ranvier.structure"
VERSION_KEY = "ranvier.format_version"
FORMAT_VERSION = "1"


class CheckpointError(ValueError):
    """A checkpoint file is truncated, corrupted or not a ranvier/safetensors checkpoint."""


def _is_path(f):
    return isinstance(f, (str, bytes, os.PathLike))


# ---- saving ------------------------------------------------------------------------------------

class _Encoder:
    def __init__(self):
        self.tensors = []      # (name, tensor) in the order met
        self.names = set()
        self.by_id = {}        # id(tensor) -> (tensor, name): the same object is stored once
        self.active = set()    # ids of the containers being walked (cycle detection)

    def _name(self, keys):
        base = ".".join(keys) if keys else "tensor"
        name, i = base, 1
        while name in self.names or name == "__metadata__":
            name = "%s#%d" % (base, i)
            i += 1
        self.names.add(name)
        return name

    def tensor(self, t, path, keys):
        from ranvier.nn.parameter import Parameter
        hit = self.by_id.get(id(t))
        if hit is not None and hit[0] is t:
            name = hit[1]
        else:
            name = self._name(keys)
            data = t.detach()
            if not data.is_cpu:
                data = data.to("cpu")
            self.tensors.append((name, data))
            self.by_id[id(t)] = (t, name)
        node = {"$tensor": name}
        if t.requires_grad:
            node["requires_grad"] = True
        if isinstance(t, Parameter):
            node["parameter"] = True
        if not t.is_cpu:
            node["device"] = str(t.device)
        return node

    def key(self, k, path):
        """A dict key: str, int, bool, float, None or a tuple of those."""
        if k is None or isinstance(k, (bool, str)):
            return k
        if isinstance(k, tuple) and not isinstance(k, Size):
            return {"$tuple": [self.key(x, path) for x in k]}
        if isinstance(k, (numbers.Integral, numbers.Real)):
            return self.value(k, path, [])
        raise TypeError("ranvier.save: cannot save a dict key of type %s at %s"
                        % (type(k).__qualname__, path))

    def value(self, obj, path, keys):
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, _C.Tensor):
            return self.tensor(obj, path, keys)
        if isinstance(obj, numbers.Integral):
            return int(obj)
        if isinstance(obj, numbers.Real):
            x = float(obj)
            if math.isfinite(x):
                return x
            return {"$float": "nan" if x != x else ("inf" if x > 0 else "-inf")}
        if isinstance(obj, _C.dtype):
            return {"$dtype": obj.name}
        if isinstance(obj, _C.device):
            return {"$device": str(obj)}
        if isinstance(obj, Size):
            return {"$size": [int(s) for s in obj]}
        if isinstance(obj, (list, tuple, dict)):
            if id(obj) in self.active:
                raise ValueError("ranvier.save: the object contains itself at %s" % path)
            self.active.add(id(obj))
            try:
                return self.container(obj, path, keys)
            finally:
                self.active.discard(id(obj))
        raise TypeError("ranvier.save: cannot save an object of type %s at %s (checkpoints hold "
                        "tensors, numbers, strings, None, and lists/tuples/dicts of them)"
                        % (type(obj).__qualname__, path))

    def container(self, obj, path, keys):
        if isinstance(obj, list):
            return [self.value(v, "%s[%d]" % (path, i), keys + [str(i)])
                    for i, v in enumerate(obj)]
        if isinstance(obj, tuple):
            return {"$tuple": [self.value(v, "%s[%d]" % (path, i), keys + [str(i)])
                               for i, v in enumerate(obj)]}
        tag = "$odict" if isinstance(obj, OrderedDict) else "$dict"
        if all(type(k) is str for k in obj):
            return {tag: {k: self.value(v, "%s[%r]" % (path, k), keys + [k])
                          for k, v in obj.items()}}
        items = []
        for k, v in obj.items():
            sub = "%s[%r]" % (path, k)
            items.append([self.key(k, sub), self.value(v, sub, keys + [str(k)])])
        return {tag: items}


def save(obj, f, pickle_module=None, pickle_protocol=None, _use_new_zipfile_serialization=True,
         _disable_byteorder_record=False):
    """Saves obj (nested dicts/lists/tuples of tensors, numbers, strings, None) to f, a path or
    a binary file object, as one safetensors file. Saving to a path is atomic: a failure or a
    kill during the save leaves the previous file intact. No pickle is used (pickle_module and
    pickle_protocol are accepted for compatibility and ignored)."""
    enc = _Encoder()
    structure = enc.value(obj, "obj", [])
    metadata = {
        "format": "pt",
        VERSION_KEY: FORMAT_VERSION,
        STRUCTURE_KEY: json.dumps(structure, allow_nan=False, separators=(",", ":")),
    }
    if _is_path(f):
        _C._st_save(os.fsdecode(f), enc.tensors, metadata)
    elif hasattr(f, "write"):
        data = memoryview(_C._st_save_bytes(enc.tensors, metadata))
        while len(data):
            n = f.write(data)
            if n is None or n >= len(data):  # buffered writers return None or everything
                break
            data = data[n:]
    else:
        raise TypeError("ranvier.save: f must be a path or a binary file object, got %s"
                        % type(f).__qualname__)


# ---- loading -----------------------------------------------------------------------------------

class _Decoder:
    def __init__(self, source, tensors, map_location):
        self.source = source
        self.tensors = tensors
        self.map_location = map_location
        self.made = {}

    def fail(self, path, what):
        raise CheckpointError("invalid checkpoint '%s': structure at %s: %s"
                              % (self.source, path, what))

    def tag(self, node, path):
        tags = [k for k in node if k.startswith("$")]
        if len(tags) != 1:
            self.fail(path, "expected an object with one $tag, got keys %s" % sorted(node))
        tag = tags[0]
        if tag == "$tensor":
            extra = set(node) - {"$tensor", "requires_grad", "parameter", "device"}
            if extra:
                self.fail(path, "unexpected fields %s in a tensor reference" % sorted(extra))
        elif len(node) != 1:
            self.fail(path, "expected one tag, got %s" % sorted(node))
        return tag, node[tag]

    def key(self, node, path):
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, dict):
            tag, body = self.tag(node, path)
            if tag == "$float":
                return self.value(node, path)
            if tag == "$tuple" and isinstance(body, list):
                return tuple(self.key(k, path) for k in body)
        self.fail(path, "a dict key must be a number, string, None or tuple of them")

    def value(self, node, path):
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, list):
            return [self.value(v, "%s[%d]" % (path, i)) for i, v in enumerate(node)]
        if not isinstance(node, dict):
            self.fail(path, "unexpected JSON value")
        tag, body = self.tag(node, path)
        if tag == "$tuple":
            if not isinstance(body, list):
                self.fail(path, "$tuple needs a list")
            return tuple(self.value(v, "%s[%d]" % (path, i)) for i, v in enumerate(body))
        if tag in ("$dict", "$odict"):
            out = OrderedDict() if tag == "$odict" else {}
            if isinstance(body, dict):
                for k, v in body.items():
                    out[k] = self.value(v, "%s[%r]" % (path, k))
            elif isinstance(body, list):
                for item in body:
                    if not isinstance(item, list) or len(item) != 2:
                        self.fail(path, "dict items must be [key, value] pairs")
                    k = self.key(item[0], path)
                    if k in out:
                        self.fail(path, "duplicate key %r" % (k,))
                    out[k] = self.value(item[1], "%s[%r]" % (path, k))
            else:
                self.fail(path, "%s needs an object or a list of pairs" % tag)
            return out
        if tag == "$tensor":
            return self.tensor(node, body, path)
        if tag == "$float":
            if body not in ("nan", "inf", "-inf"):
                self.fail(path, "$float must be 'nan', 'inf' or '-inf'")
            return float(body)
        if tag == "$size":
            if not isinstance(body, list) or not all(type(s) is int and s >= 0 for s in body):
                self.fail(path, "$size needs a list of non-negative integers")
            return Size(body)
        if tag == "$dtype":
            from ranvier import _dtypes
            names = {d.name: d for d in _dtypes.ALL}
            if not isinstance(body, str) or body not in names:
                self.fail(path, "unknown dtype %r" % (body,))
            return names[body]
        if tag == "$device":
            if not isinstance(body, str):
                self.fail(path, "$device needs a string")
            try:
                return _C.device(body)
            except (ValueError, RuntimeError, TypeError) as e:
                self.fail(path, "bad device %r (%s)" % (body, e))
        self.fail(path, "unknown tag %r" % (tag,))

    def tensor(self, node, name, path):
        if not isinstance(name, str) or name not in self.tensors:
            self.fail(path, "refers to a tensor %r that the file does not hold" % (name,))
        rg = node.get("requires_grad", False)
        param = node.get("parameter", False)
        location = node.get("device", "cpu")
        if type(rg) is not bool or type(param) is not bool or not isinstance(location, str):
            self.fail(path, "bad tensor flags")
        key = (name, rg, param, location)
        if key in self.made:
            return self.made[key]
        t = _place(self.tensors[name], location, self.map_location)
        if param:
            from ranvier.nn.parameter import Parameter
            t = Parameter(t, requires_grad=rg)
        elif rg:
            t.requires_grad_(True)
        self.made[key] = t
        return t


def _place(t, location, map_location):
    """Moves a loaded (CPU) tensor to where map_location says, PyTorch's rules."""
    target = location
    if map_location is None:
        pass
    elif callable(map_location) and not isinstance(map_location, (str, _C.device)):
        r = map_location(t, location)
        if r is not None:
            return r
    elif isinstance(map_location, dict):
        target = map_location.get(location, location)
    else:
        target = map_location
    target = str(target)
    return t if target == "cpu" else t.to(target)


def _strict_json(text, source):
    def pairs(items):
        out = {}
        for k, v in items:
            if k in out:
                raise CheckpointError("invalid checkpoint '%s': duplicate key %r in the structure"
                                      % (source, k))
            out[k] = v
        return out

    def no_constants(name):
        raise CheckpointError("invalid checkpoint '%s': %s in the structure JSON" % (source, name))

    try:
        return json.loads(text, object_pairs_hook=pairs, parse_constant=no_constants)
    except json.JSONDecodeError as e:
        raise CheckpointError("invalid checkpoint '%s': the structure is not valid JSON (%s)"
                              % (source, e)) from None
    except RecursionError:
        raise CheckpointError("invalid checkpoint '%s': the structure is nested too deeply"
                              % (source,)) from None


def _hint(f):
    """A hint for files that are PyTorch pickles rather than safetensors."""
    try:
        with open(f, "rb") as fh:
            head = fh.read(4)
    except OSError:
        return ""
    if head.startswith(b"PK\x03\x04") or head[:1] == b"\x80":
        return (" (this looks like a PyTorch pickle/zip checkpoint; ranvier reads only "
                "safetensors files, so convert it with safetensors.torch.save_file)")
    return ""


def load(f, map_location=None, pickle_module=None, *, weights_only=True, mmap=None,
         **pickle_load_args):
    """Loads what ranvier.save wrote to f (a path or a binary file object). A plain safetensors
    file (without ranvier's structure) loads as a dict of name -> tensor. Any corruption raises
    CheckpointError (a ValueError) naming the file. Tensors own their memory. map_location:
    None, a device or string, a dict {saved location: new location}, or a callable
    (tensor, location) -> tensor. Loading never unpickles anything, whatever weights_only says."""
    if _is_path(f):
        source = os.fsdecode(f)
        try:
            tensors, metadata = _C._st_load(source)
        except ValueError as e:
            raise CheckpointError(str(e) + _hint(source)) from None
    elif hasattr(f, "read"):
        data = f.read()
        if isinstance(data, str):
            raise TypeError("ranvier.load: the file object must be opened in binary mode")
        source = str(getattr(f, "name", "<file object>"))
        try:
            tensors, metadata = _C._st_load_bytes(data, source)
        except ValueError as e:
            raise CheckpointError(str(e)) from None
    else:
        raise TypeError("ranvier.load: f must be a path or a binary file object, got %s"
                        % type(f).__qualname__)
    by_name = dict(tensors)
    if STRUCTURE_KEY not in metadata:
        return {name: _place(t, "cpu", map_location) for name, t in tensors}
    version = metadata.get(VERSION_KEY)
    if version != FORMAT_VERSION:
        raise CheckpointError("invalid checkpoint '%s': unsupported ranvier format version %r"
                              % (source, version))
    structure = _strict_json(metadata[STRUCTURE_KEY], source)
    try:
        return _Decoder(source, by_name, map_location).value(structure, "obj")
    except RecursionError:
        raise CheckpointError("invalid checkpoint '%s': the structure is nested too deeply"
                              % (source,)) from None
