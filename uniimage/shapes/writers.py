"""Writers for the training formats that the data readers consume.

JSONL manifest: one object per line, {"image", "caption", "source_images"? , "meta"}, image paths
relative to the JSONL file. Webdataset: tar shards written with `tarfile`, one sample per key
`NNNNNN` with members `.png`, `.txt` (caption), `.json` (meta) and, for edits, `.source.png`.
VQA JSONL: {"image", "question", "answer", "meta"}.
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

from PIL import Image


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, sort_keys=True) + "\n")


def _add_member(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0  # fixed, so equal inputs give byte-identical shards
    tar.addfile(info, io.BytesIO(data))


def write_wds_shards(out_dir: Path, prefix: str, samples: list[dict], shard_size: int = 1000) -> list[Path]:
    """`samples`: dicts with "image" (PIL), "caption", "meta", optional "source_images" (list of PIL)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for shard_index, start in enumerate(range(0, len(samples), shard_size)):
        path = out_dir / f"{prefix}-{shard_index:06d}.tar"
        with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as tar:
            for key_index, sample in enumerate(samples[start : start + shard_size], start=start):
                key = f"{key_index:06d}"
                _add_member(tar, f"{key}.png", png_bytes(sample["image"]))
                _add_member(tar, f"{key}.txt", sample["caption"].encode("utf-8"))
                _add_member(tar, f"{key}.json", json.dumps(sample["meta"], sort_keys=True).encode("utf-8"))
                for i, source in enumerate(sample.get("source_images", [])):
                    suffix = "source" if i == 0 else f"source{i}"
                    _add_member(tar, f"{key}.{suffix}.png", png_bytes(source))
        paths.append(path)
    return paths
