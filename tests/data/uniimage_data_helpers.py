"""Builders of small data sets in tmp_path: good images, one corrupt file, one truncated PNG, one missing path.

(A uniquely named module, not conftest, so other test folders' conftest files cannot shadow it.)"""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path

from PIL import Image

COLORS = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (0, 255, 255), (255, 0, 255)]


def png_bytes(size=(40, 32), color=(255, 0, 0)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


def corrupt_bytes() -> bytes:
    return os.urandom(300)


def truncated_png() -> bytes:
    # A noisy image compresses badly, so cutting the file in half really loses pixel data.
    img = Image.frombytes("RGB", (64, 64), os.urandom(64 * 64 * 3))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    data = buf.getvalue()
    return data[: len(data) // 2]


def write_image_folder(root: Path, n_good: int = 4) -> dict[str, str]:
    """Files: good0..good{n-1}.png, corrupt.png, truncated.png, src.png. Returns name -> relative path."""
    root.mkdir(parents=True, exist_ok=True)
    names = {}
    for i in range(n_good):
        (root / f"good{i}.png").write_bytes(png_bytes((40 + i, 32), COLORS[i % len(COLORS)]))
        names[f"good{i}"] = f"good{i}.png"
    (root / "corrupt.png").write_bytes(corrupt_bytes())
    (root / "truncated.png").write_bytes(truncated_png())
    (root / "src.png").write_bytes(png_bytes((20, 30), (10, 20, 30)))
    return names


def write_shards(root: Path, n_shards: int, per_shard: int, bad: bool = True, caption_json: bool = False) -> list[str]:
    """Tar shards of t2i samples keyed s{shard}_{i}; the first shard also gets a corrupt and a truncated image."""
    root.mkdir(parents=True, exist_ok=True)
    keys = []
    for s in range(n_shards):
        members = []
        for i in range(per_shard):
            key = f"s{s}_{i:03d}"
            keys.append(f"shard-{s:03d}.tar/{key}")
            cap = json.dumps({"prompt": f"caption {key}"}).encode() if caption_json else f"caption {key}".encode()
            members += [(f"{key}.jpg" if i % 2 else f"{key}.png", png_bytes((36, 36), COLORS[i % len(COLORS)])),
                        (f"{key}.json" if caption_json else f"{key}.txt", cap)]
        if bad and s == 0:
            members += [("zcorrupt.png", corrupt_bytes()), ("zcorrupt.txt", b"x"),
                        ("ztrunc.png", truncated_png()), ("ztrunc.txt", b"y"),
                        ("znoimg.txt", b"caption without image")]
        with tarfile.open(root / f"shard-{s:03d}.tar", "w") as tar:
            for name, data in members:
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return keys
