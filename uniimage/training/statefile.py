"""Training state as JSON + safetensors: written and read back without pickle, so loading runs no code.

Optimizer, LR-scheduler, RNG and data-position states are nested dicts / lists / tuples of numbers,
strings, tensors and small numpy arrays; an 8-bit optimizer's state tensors (torchao's OptimState8bit,
a tensor subclass) are stored as their parts (uint8 codes, float32 block scales, code map) and rebuilt
through the class's own __tensor_unflatten__, for the allow-listed classes in QUANTIZED only. `save_state(obj, folder, name)` writes

    name.json           the structure; tuples, dicts with non-string keys and numpy arrays are tagged
    name.safetensors    its tensors (only when it holds any), keyed by their path in the structure

and `load_state` rebuilds the same object. Both formats are parsed, never executed: a tampered file is
at worst a parse error. Objects of any other type are refused when saving (a clear error, not a pickle).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ..errors import CheckpointError

TAG = "__state__"  # {"__state__": "tuple" | "dict" | "tensor" | "ndarray" | "quantized" | "dtype", ...}
_ARRAY_KINDS = "biuf"  # bool, int, uint, float: the numpy dtypes an RNG or data state holds
# Tensor subclasses a saved state may hold, by the name written into the JSON -> (module, class). A name
# not listed here is refused when saving and when loading: the JSON never picks the code that runs.
QUANTIZED = {"torchao.OptimState8bit": ("torchao.optim.subclass_8bit", "OptimState8bit")}


def _quantized_name(obj) -> str | None:
    return next((name for name, (module, cls) in QUANTIZED.items()
                 if type(obj).__module__ == module and type(obj).__qualname__ == cls), None)


def _quantized_class(name: str) -> type:
    import importlib

    if name not in QUANTIZED:
        raise ValueError(f"tensor type {name!r} is not one this version rebuilds ({', '.join(QUANTIZED)})")
    module, cls = QUANTIZED[name]
    try:
        return getattr(importlib.import_module(module), cls)
    except ImportError as e:
        raise CheckpointError(f"this state holds {name} tensors (an 8-bit optimizer's): install torchao to read it ({e})") from None


def _encode(obj, path: str, tensors: dict):
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, torch.dtype):  # a quantized tensor's apparent dtype
        return {TAG: "dtype", "name": str(obj).removeprefix("torch.")}
    if isinstance(obj, torch.Tensor) and (name := _quantized_name(obj)) is not None:
        parts, attributes = obj.__tensor_flatten__()
        return {TAG: "quantized", "type": name, "attributes": [_encode(a, f"{path}/attr{i}", tensors) for i, a in enumerate(attributes)],
                "parts": {part: _encode(getattr(obj, part), f"{path}/{part}", tensors) for part in parts}}
    if isinstance(obj, torch.Tensor):
        if type(obj) is not torch.Tensor and not isinstance(obj, torch.nn.Parameter):
            raise CheckpointError(f"state entry {path or '/'} is a {type(obj).__name__}, not a plain tensor")
        tensors[path] = obj.detach().cpu().contiguous().clone()  # clone: safetensors refuses shared storage
        return {TAG: "tensor", "key": path}
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind not in _ARRAY_KINDS:
            raise CheckpointError(f"state entry {path or '/'} is a numpy array of {obj.dtype}, not numbers")
        return {TAG: "ndarray", "dtype": obj.dtype.str, "shape": list(obj.shape), "data": obj.ravel().tolist()}
    if isinstance(obj, np.generic):  # numpy scalar: its Python number
        return obj.item()
    if isinstance(obj, tuple):
        return {TAG: "tuple", "items": [_encode(v, f"{path}/{i}", tensors) for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [_encode(v, f"{path}/{i}", tensors) for i, v in enumerate(obj)]
    if isinstance(obj, dict):
        if all(isinstance(k, str) and k != TAG for k in obj):
            return {k: _encode(v, f"{path}/{k}", tensors) for k, v in obj.items()}
        # Non-string keys (optimizer state is keyed by parameter index): a list of pairs keeps their type.
        return {TAG: "dict", "items": [[_encode(k, f"{path}/key{i}", tensors), _encode(v, f"{path}/{k}", tensors)]
                                       for i, (k, v) in enumerate(obj.items())]}
    raise CheckpointError(f"state entry {path or '/'} is a {type(obj).__module__}.{type(obj).__qualname__}: "
                          "only numbers, strings, lists, tuples, dicts, tensors and numeric arrays are saved")


def _decode(obj, tensors: dict, where: str):
    if isinstance(obj, list):
        return [_decode(v, tensors, where) for v in obj]
    if not isinstance(obj, dict):
        return obj
    kind = obj.get(TAG)
    if kind is None:
        return {k: _decode(v, tensors, where) for k, v in obj.items()}
    try:
        if kind == "tuple":
            return tuple(_decode(v, tensors, where) for v in obj["items"])
        if kind == "dict":
            return {_decode(k, tensors, where): _decode(v, tensors, where) for k, v in obj["items"]}
        if kind == "tensor":
            return tensors[obj["key"]]
        if kind == "dtype":
            dtype = getattr(torch, obj["name"], None)
            if not isinstance(dtype, torch.dtype):
                raise ValueError(f"{obj['name']!r} is not a torch dtype")
            return dtype
        if kind == "quantized":
            cls = _quantized_class(obj["type"])
            parts = {k: _decode(v, tensors, where) for k, v in obj["parts"].items()}
            if not all(type(v) is torch.Tensor for v in parts.values()):
                raise ValueError("its parts must be tensors")
            return cls.__tensor_unflatten__(parts, [_decode(a, tensors, where) for a in obj["attributes"]], None, None)
        if kind == "ndarray":
            dtype = np.dtype(obj["dtype"])
            if dtype.kind not in _ARRAY_KINDS:
                raise ValueError(f"array dtype {dtype}")
            return np.asarray(obj["data"], dtype=dtype).reshape(obj["shape"])
    except (KeyError, TypeError, ValueError, AssertionError) as e:  # AssertionError: a subclass's own checks
        raise CheckpointError(f"{where}: malformed {kind} entry ({type(e).__name__}: {e})") from None
    raise CheckpointError(f"{where}: unknown entry kind {kind!r}")


def state_files(folder: Path, name: str) -> tuple[Path, Path]:
    return Path(folder) / f"{name}.json", Path(folder) / f"{name}.safetensors"


def save_state(obj, folder: Path, name: str) -> None:
    structure, tensors = state_files(folder, name)
    found: dict = {}
    text = json.dumps(_encode(obj, "", found))
    if found:
        save_file(found, str(tensors))
    structure.write_text(text)


def load_state(folder: Path, name: str):
    structure, tensor_file = state_files(folder, name)
    if not structure.is_file():
        raise CheckpointError(f"checkpoint {folder} lacks {structure.name}")
    try:
        data = json.loads(structure.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise CheckpointError(f"{structure} is not a JSON state file ({type(e).__name__}: {e}); "
                              "refusing to resume from it") from None
    tensors = {}
    if tensor_file.is_file():
        try:
            tensors = load_file(str(tensor_file))
        except (SafetensorError, OSError, ValueError) as e:
            raise CheckpointError(f"{tensor_file} is not a safetensors file ({e}); refusing to resume from it") from None
    missing = sorted(_tensor_keys(data) - set(tensors))
    if missing:
        raise CheckpointError(f"{structure} names tensors that {tensor_file.name} lacks: {', '.join(missing[:5])}")
    return _decode(data, tensors, str(structure))


def _tensor_keys(obj) -> set:
    if isinstance(obj, list):
        return set().union(*map(_tensor_keys, obj)) if obj else set()
    if isinstance(obj, dict):
        if obj.get(TAG) == "tensor":
            key = obj.get("key")
            return {key if isinstance(key, str) else repr(key)}
        return _tensor_keys(list(obj.values()))
    return set()
