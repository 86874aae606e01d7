"""Record -> sample: every image goes through `load_image`; failures are counted and logged, never replaced."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
from PIL import Image

from ..utils.images import ImageInputError, load_image
from .fields import Record
from .sample import make_sample
from .stats import DataStats
from .transforms import TargetTransform

log = logging.getLogger(__name__)


class MissingImage(Exception):
    """The record points at an image that is not there (absent file, empty column)."""


def resolve_image(ref, base_dir: Path | None) -> Image.Image:
    """Any image reference a data set stores -> RGB PIL image; MissingImage or ImageInputError otherwise."""
    if isinstance(ref, dict):  # HF Image feature stored undecoded: {"bytes": ..., "path": ...}
        ref = ref.get("bytes") or ref.get("path")
    if ref is None or (isinstance(ref, (bytes, str)) and len(ref) == 0):
        raise MissingImage("empty image field")
    if isinstance(ref, (str, os.PathLike)):
        path = Path(ref)
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        if not path.exists():
            raise MissingImage(f"image file not found: {path}")
        ref = path
    if isinstance(ref, (Image.Image, np.ndarray, bytes, bytearray, os.PathLike)):
        return load_image(ref)
    raise ImageInputError(f"unsupported image reference of type {type(ref).__name__}")


def _skip(stats: DataStats, counter: str, name: str, key: str, why) -> None:
    setattr(stats, counter, getattr(stats, counter) + 1)
    log.warning("%s: skipping sample %r: %s", name, key, why)


def decode_record(rec: Record, transform: TargetTransform, stats: DataStats, name: str) -> dict | None:
    """Decode and transform one record, or count why it is skipped and return None."""
    stats.seen += 1
    if rec.problem is not None:
        return _skip(stats, "skipped_invalid", name, rec.key, rec.problem)
    try:
        target = resolve_image(rec.target, rec.base_dir)
        sources = [resolve_image(s, rec.base_dir) for s in rec.sources]
    except MissingImage as e:
        return _skip(stats, "skipped_missing", name, rec.key, e)
    except ImageInputError as e:
        return _skip(stats, "skipped_corrupt", name, rec.key, e)
    status = transform.status(target)
    if status == "too_small":
        return _skip(stats, "skipped_too_small", name, rec.key, f"target is {target.size[0]}x{target.size[1]}, short side under {transform.min_size}")
    if status == "upscaled":
        stats.upscaled += 1
        log.debug("%s: upscaling %r from %s", name, rec.key, target.size)
    sample = make_sample(transform(target), rec.caption or "", sources, rec.key)
    stats.yielded += 1
    setattr(stats, sample["kind"], getattr(stats, sample["kind"]) + 1)
    return sample
