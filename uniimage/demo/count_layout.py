"""Counting scenes in a fixed arrangement: n objects always stand on the same n places.

Why: the demo draws "three stars" as four (demo README, "Demo v17"). The condition holds the count (the slot
heads read it at 1.00) and without guidance "three" is mostly right; guidance pushes along cond - uncond, and
with the objects anywhere that direction means "more objects", so at 4.5 it adds one. With a fixed arrangement
per count the count becomes a layout the first steps decide, and guidance strengthens that layout instead of
a number (a fixed place for added objects is what made edits readable, v15). No count's places are a subset of
another's: three is a triangle with its apex at the top centre, which four (a 2 x 2 grid) leaves empty.

    python -m uniimage.cli.demo_count_layout SRC.jsonl DST.jsonl
"""

from __future__ import annotations

import itertools

from ..errors import ConfigError
from ..shapes.layout import boxes_clear
from ..shapes.scene import Scene
from .redraw import write_redrawn

# Centres (x, y; y downwards) per object count. Each holds the largest size its count samples
# (shapes.layout.SIZE_RANGE) with the layout's gap between boxes and inside the edge margin.
PLACES = {
    1: ((0.5, 0.5),),
    2: ((0.28, 0.5), (0.72, 0.5)),
    3: ((0.5, 0.28), (0.28, 0.72), (0.72, 0.72)),
    4: ((0.28, 0.28), (0.72, 0.28), (0.28, 0.72), (0.72, 0.72)),
}


def arranged(scene: Scene) -> Scene:
    """The scene with its objects (sizes and colours kept, in their order) moved onto PLACES of their count."""
    places = PLACES.get(len(scene.objects))
    if places is None:
        raise ConfigError(f"count layout: no arrangement for {len(scene.objects)} objects (have {sorted(PLACES)})")
    objects = tuple(o.replace(center=c) for o, c in zip(scene.objects, places))
    for a, b in itertools.combinations(objects, 2):
        if not boxes_clear(a, b):
            raise ConfigError(f"count layout: objects of sizes {a.size:.2f} and {b.size:.2f} overlap at {a.center}, {b.center}")
    return Scene(objects, scene.background)


def write_count_layout(src_jsonl, dst_jsonl, image_folder: str = "images/count_layout") -> dict:
    """A copy of a ShapesEval t2i JSONL whose counting scenes (tag "counting") are drawn in the fixed arrangement;
    other rows are copied as they are (redraw.py: redrawn images go to `image_folder` beside DST; a redrawn scene that
    would show a held-out combination drops its row). -> counts."""
    def redraw(meta: dict, scene: Scene) -> Scene | None:
        return arranged(scene) if meta["tag"] == "counting" else None

    return write_redrawn(src_jsonl, dst_jsonl, image_folder, redraw, "count layout", "arranged")
