"""A copy of a ShapesEval t2i JSONL with some of its scenes drawn again: the loop that reading_order.py (two-object
scenes mirrored) and count_layout.py (counting scenes arranged) share. Redrawn images go to an image folder beside
the copy, so image paths stay relative to the JSONL's folder, as the source's. A redrawn scene that would show a
held-out combination drops its row, so the training split stays disjoint from the held-out one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

from PIL import Image

from ..errors import ConfigError
from ..shapes.heldout import heldout_combinations
from ..shapes.render import render_scene
from ..shapes.scene import Scene


def write_redrawn(src_jsonl, dst_jsonl, image_folder: str, redraw: Callable[[dict, Scene], Scene | None],
                  name: str, changed: str) -> dict:
    """Copy SRC to DST, each row's scene passed through redraw(meta, scene): None keeps the row as it is, a scene is
    drawn at the source image's size. `name` starts every error, `changed` names the count of redrawn rows.
    -> {"kept": n, changed: n, "dropped": n}."""
    src, dst = Path(src_jsonl), Path(dst_jsonl)
    if src.parent.resolve() != dst.parent.resolve():
        raise ConfigError(f"{name}: {dst} must sit beside {src}, whose image paths it reuses")
    held = heldout_combinations()
    rows = [json.loads(line) for line in src.read_text(encoding="utf-8").splitlines() if line.strip()]
    (dst.parent / image_folder).mkdir(parents=True, exist_ok=True)
    counts, out = {"kept": 0, changed: 0, "dropped": 0}, []
    for i, row in enumerate(rows):
        meta = row.get("meta", {})
        if "scene" not in meta or "tag" not in meta:
            raise ConfigError(f"{name}: {src} row {i} has no ShapesEval scene metadata (meta.scene, meta.tag)")
        scene = redraw(meta, Scene.from_dict(meta["scene"]))
        if scene is None:
            out.append(row)
            counts["kept"] += 1
            continue
        if held.scene_touches(scene.objects):
            counts["dropped"] += 1
            continue
        with Image.open(src.parent / row["image"]) as image:
            size = image.width
        path = f"{image_folder}/{Path(row['image']).with_suffix('').as_posix().replace('/', '_')}.png"  # unique per source
        render_scene(scene, size).save(dst.parent / path)
        out.append({**row, "image": path, "meta": {**meta, "scene": scene.to_dict()}})
        counts[changed] += 1
    dst.write_text("".join(json.dumps(row) + "\n" for row in out), encoding="utf-8")
    return counts
