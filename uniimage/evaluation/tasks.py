"""One unit of sampler work: a prompt (and, for editing, its input images) with a stable identity."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError

# Keys become file names; keep them to one safe path component.
_SAFE_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


@dataclass(frozen=True)
class Task:
    """`index` is the position in the full prompt set: seeds derive from it, so a `--limit`, a shard or a
    resumed run draws the same image for the same prompt. `key` names the output file(s)."""

    index: int
    key: str
    prompt: str
    images: tuple[Path, ...] = field(default_factory=tuple)  # editing inputs
    source_line: str | None = None  # the verbatim line of the benchmark file (GenEval metadata)


def check_key(key: str, where: str) -> str:
    """A key must be a plain file stem: no folders, no '..', no hidden names."""
    if not _SAFE_KEY.match(key) or ".." in key:
        raise InputError(f"{where}: id {key!r} cannot be used as a file name (letters, digits, '_', '-', '.')")
    return key
