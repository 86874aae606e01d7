"""`build_dataset(spec, ...)`: one reader from a spec dict, or a weighted mixture from a list of specs."""

from __future__ import annotations

from pathlib import Path

from .dropout import dropout_config
from ..errors import DataError
from .hf_reader import HFReader
from .jsonl_reader import JsonlReader
from .mixing import MixedStream
from .stream import SampleStream
from .webdataset_reader import WebDatasetReader

TYPES = ("webdataset", "hf", "parquet", "jsonl", "latents")
SPEC_KEYS = {"type", "path", "shuffle_buffer", "weight", "shuffle", "min_size", "cfg_dropout", "split", "cache_dir"}


def detect_type(path) -> str:
    """Guess a data set's kind from its path (used by `type: auto` and `uniimage data check`)."""
    text, p = str(path), Path(path)
    if text.endswith(".jsonl"):
        return "jsonl"
    if text.endswith(".parquet"):
        return "parquet"
    if text.endswith(".tar") or "{" in text:
        return "webdataset"
    if p.is_dir():
        if (p / "latents.json").is_file():
            return "latents"
        if (p / "dataset_info.json").exists() or (p / "state.json").exists() or (p / "dataset_dict.json").exists():
            return "hf"
        if any(p.glob("*.tar")):
            return "webdataset"
        if any(p.rglob("*.parquet")):
            return "parquet"
    if not p.exists() and not any(c in text for c in "*?["):
        raise DataError(f"dataset path does not exist: {text}")
    raise DataError(f"cannot tell what kind of dataset {text} is: pass a type ({', '.join(TYPES)})")


def build_reader(spec: dict, image_size: int, seed: int, rank: int, world_size: int) -> SampleStream:
    unknown = set(spec) - SPEC_KEYS
    if unknown:
        raise DataError(f"unknown dataset spec keys {sorted(unknown)} (known: {sorted(SPEC_KEYS)})")
    if "path" not in spec:
        raise DataError(f"dataset spec has no `path`: {spec}")
    kind = spec.get("type", "auto")
    kind = detect_type(spec["path"]) if kind == "auto" else kind
    common = dict(
        seed=seed,
        rank=rank,
        world_size=world_size,
        shuffle=bool(spec.get("shuffle", True)),
        min_size=spec.get("min_size"),
        cfg_dropout=dropout_config(spec.get("cfg_dropout")),
    )
    if kind == "webdataset":
        return WebDatasetReader(spec["path"], image_size, shuffle_buffer=spec.get("shuffle_buffer", 1000), **common)
    if kind in ("hf", "parquet"):
        return HFReader(spec["path"], image_size, kind=kind, split=spec.get("split"), cache_dir=spec.get("cache_dir"), **common)
    if kind == "jsonl":
        return JsonlReader(spec["path"], image_size, **common)
    if kind == "latents":
        from .latents import LatentReader

        return LatentReader(spec["path"], image_size, shuffle_buffer=spec.get("shuffle_buffer", 1000), **common)
    raise DataError(f"unknown dataset type {kind!r} for {spec['path']} (known: {', '.join(TYPES)}, auto)")


def build_dataset(spec, image_size: int, seed: int = 0, rank: int = 0, world_size: int = 1, until: str = "all_exhausted"):
    """A spec dict -> one reader; a list of spec dicts -> their mixture, drawn by each spec's `weight`."""
    if isinstance(spec, dict):
        return build_reader(spec, image_size, seed, rank, world_size)
    specs = list(spec)
    if len(specs) == 1:
        return build_reader(specs[0], image_size, seed, rank, world_size)
    # Distinct seeds per child: two children must not share one shuffle order.
    children = [build_reader(s, image_size, seed * 1000 + i, rank, world_size) for i, s in enumerate(specs)]
    return MixedStream(children, [float(s.get("weight", 1.0)) for s in specs], seed=seed, until=until)
