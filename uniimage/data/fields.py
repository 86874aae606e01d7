"""Column / field names of the published data sets, and how a raw record becomes (target, caption, sources)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TARGET_KEYS = ("target_image", "image")
CAPTION_KEYS = ("caption", "prompt", "instruction", "text")
SOURCE_KEYS = ("source_images", "source_image")


@dataclass
class Record:
    """One undecoded record: image references (bytes, path, HF image dict, PIL...) plus text."""

    key: str
    target: Any
    caption: str | None
    sources: list = field(default_factory=list)
    base_dir: Path | None = None  # relative image paths are resolved against this
    problem: str | None = None  # set when the record itself is unusable (e.g. a bad JSON line)


def first_present(row: dict, names) -> Any:
    for name in names:
        if row.get(name) is not None:
            return row[name]
    return None


def caption_of(value) -> str | None:
    """A caption field may be a string or a list (GPT-Image-Edit keeps a history: the last one is the edit)."""
    if isinstance(value, (list, tuple)):
        value = next((v for v in reversed(value) if v is not None), None)
    if value is None:
        return None
    return str(value).strip()


def sources_of(value) -> list:
    """`source_image(s)` may be one image, a list, empty, or None (fine-tune sets: absent means text-to-image)."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [v for v in value if v is not None]
    return [value]


def record_from_row(row: dict, key: str, base_dir: Path | None = None) -> Record:
    target = first_present(row, TARGET_KEYS)
    caption = caption_of(first_present(row, CAPTION_KEYS))
    problem = None
    if not any(k in row for k in TARGET_KEYS):
        problem = f"no target image field (one of {TARGET_KEYS})"
    elif caption is None:
        problem = f"no caption field (one of {CAPTION_KEYS})"
    sources = sources_of(first_present(row, SOURCE_KEYS))
    return Record(key=key, target=target, caption=caption, sources=sources, base_dir=base_dir, problem=problem)
