"""Two-object training scenes in reading order: the object a caption names first is drawn on the left.

Why: the demo's DiT draws a two-object prompt as one of the two shapes twice (54 of 63 two-object failures
of v6's stage 1). Each blob picks a shape on its own, and with the objects anywhere nothing tells the blob
on the left that it is "the circle" rather than "the square". Laid out in reading order, the words' order
says which blob is which, as the full descriptions (`describe.py`, left object first) already do. Scenes
whose order a relation fixes ("a circle right of a square") are kept as drawn; the rest are mirrored
left-right and re-rendered. A mirror that would show a held-out position triple drops the row instead,
so the training split stays disjoint from the held-out one. Every shape is left-right symmetric.

    python -m uniimage.cli.demo_reading_order SRC.jsonl DST.jsonl
"""

from __future__ import annotations

from ..shapes.prompts import caption_objects
from ..shapes.scene import Scene
from .redraw import write_redrawn

HORIZONTAL = ("left of", "right of")


def needs_mirror(meta: dict, scene: Scene) -> bool:
    """True if the first-named of two objects is right of the second and no left/right relation fixes it."""
    named = caption_objects(meta)
    if len(scene.objects) != 2 or len(named) != 2:
        return False
    if meta["tag"] == "position" and named[0]["position"][0] in HORIZONTAL:
        return False
    first = next(o for o in scene.objects if o.shape == named[0]["class"])
    second = next(o for o in scene.objects if o is not first)
    return first.center[0] > second.center[0]


def mirrored(scene: Scene) -> Scene:
    return Scene(tuple(o.replace(center=(1 - o.center[0], o.center[1])) for o in scene.objects), scene.background)


def write_reading_order(src_jsonl, dst_jsonl, image_folder: str = "images/reading_order") -> dict:
    """A copy of a ShapesEval t2i JSONL with two-object scenes in reading order (redraw.py: mirrored images go to
    `image_folder` beside DST; a mirror that would show a held-out relation drops its row). -> counts."""
    def redraw(meta: dict, scene: Scene) -> Scene | None:
        return mirrored(scene) if needs_mirror(meta, scene) else None

    return write_redrawn(src_jsonl, dst_jsonl, image_folder, redraw, "reading order", "mirrored")
