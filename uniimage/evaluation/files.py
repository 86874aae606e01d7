"""Atomic writes: a file under its final name is always complete, so "exists" means "done" on resume,
even after a crash or with several shards writing into one folder."""

from __future__ import annotations

import os
from pathlib import Path

from PIL import Image


def _temp_for(path: Path) -> Path:
    # Hidden, pid-unique and not ending in .png: the scorers' globs never pick it up.
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def _commit(tmp: Path, path: Path) -> None:
    try:
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def save_png(image: Image.Image, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_for(path)
    image.save(tmp, format="PNG")
    _commit(tmp, path)


def save_text(text: str, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_for(path)
    tmp.write_text(text, encoding="utf-8")
    _commit(tmp, path)
