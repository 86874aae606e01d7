"""Where `generate` / `edit` write: one named file (PNG, JPEG or WebP, metadata embedded) or a folder of
`<index>-<prompt-slug>.png` files with a `metadata.jsonl` beside them. Checked before any model loads."""

from __future__ import annotations

import json
import re
from pathlib import Path

from ..errors import InputError

FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}
OTHER_IMAGE_SUFFIXES = {".gif", ".bmp", ".tif", ".tiff", ".avif", ".heic"}
SLUG_CHARS = 40
EXIF_DESCRIPTION, EXIF_SOFTWARE = 0x010E, 0x0131


def slug(prompt: str) -> str:
    words = re.sub(r"[^a-z0-9]+", "-", prompt.lower()).strip("-")
    return words[:SLUG_CHARS].rstrip("-") or "image"


def plan(output: str, prompts: list[str], per_prompt: int) -> tuple[list[Path], Path | None]:
    """-> (one path per image, the metadata.jsonl path or None). Creates nothing yet."""
    out = Path(output)
    count = len(prompts) * per_prompt
    suffix = out.suffix.lower()
    if suffix in FORMATS:
        if count != 1:
            raise InputError(f"-o {output} names one file but {count} images will be made; give a folder")
        if out.is_dir():
            raise InputError(f"-o {output} is a folder; name a new file or drop the suffix")
        return [out], None
    if suffix in OTHER_IMAGE_SUFFIXES:
        raise InputError(f"-o {output}: {suffix} is not written; use .png, .jpg or .webp (or a folder)")
    if out.exists() and not out.is_dir():
        raise InputError(f"-o {output} exists and is not a folder")
    names = [f"{i * per_prompt + k:04d}-{slug(p)}.png" for i, p in enumerate(prompts) for k in range(per_prompt)]
    return [out / name for name in names], out / "metadata.jsonl"


def check_writable(paths: list[Path]) -> None:
    """The nearest existing parent must be a writable folder: fail now, not after sampling."""
    import os

    for folder in {p.parent for p in paths}:
        probe = folder
        while not probe.exists():
            probe = probe.parent
        if not probe.is_dir() or not os.access(probe, os.W_OK):
            raise InputError(f"cannot write into {folder}: {probe} is not a writable folder")


def save(images, paths: list[Path], metadata: list[dict], jsonl: Path | None) -> None:
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    for image, path, meta in zip(images, paths, metadata):
        path.parent.mkdir(parents=True, exist_ok=True)
        fmt = FORMATS.get(path.suffix.lower(), "PNG")
        if fmt == "PNG":
            info = PngInfo()
            for k, v in meta.items():
                info.add_text(k, str(v))
            image.save(path, pnginfo=info)
        else:
            # JPEG and WebP have no text chunks: the same fields go into EXIF ImageDescription as JSON.
            exif = Image.Exif()
            exif[EXIF_DESCRIPTION] = json.dumps(meta)
            exif[EXIF_SOFTWARE] = "uniimage"
            image.save(path, format=fmt, quality=95, exif=exif)
        print(path)
    if jsonl is not None:
        with open(jsonl, "a", encoding="utf-8") as f:  # appending keeps the records of earlier runs
            for path, meta in zip(paths, metadata):
                f.write(json.dumps({"file": path.name, **meta}) + "\n")
