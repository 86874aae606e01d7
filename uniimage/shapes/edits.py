"""Editing triples: a source scene, an instruction, and the target scene it should become.

Kinds: recolor, add, remove, move. The edited object is named by its shape, which is unique in the
source scene, so every instruction has exactly one right answer. In the training split neither
scene nor instruction touches a held-out combination; in the heldout split the edit creates one
(recolor into, or add, a held-out colour-shape pair) from a source free of them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from .heldout import HeldOut
from .layout import EDGE_MARGIN, fits, grid_cell, place_objects, sample_size
from .prompts import item_rng
from .scene import Scene, ShapeObject
from .templates import EDIT, fill
from .vocab import BACKGROUNDS, COLORS, SHAPES

EDIT_KINDS = ("recolor", "add", "remove", "move")
HELDOUT_EDIT_KINDS = ("recolor", "add")
DIRECTIONS = {"left": (0, -1), "right": (0, 1), "top": (1, -1), "bottom": (1, 1)}  # (axis, sign)
MIN_MOVE = 0.2
MAX_TRIES = 200


@dataclass(frozen=True)
class EditItem:
    kind: str
    instruction: str
    source: Scene
    target: Scene


def _source_objects(rng: random.Random, split: str, heldout: HeldOut, n: int, must_have: str | None = None):
    """n objects with distinct shapes (so each is nameable), `must_have` shape among them.
    Sources are free of held-out combinations in both splits: in heldout, the edit creates one."""
    shapes = rng.sample(SHAPES, n)
    if must_have and must_have not in shapes:
        shapes[0] = must_have
    specs = [(s, rng.choice(heldout.allowed_colors(s))) for s in shapes]
    return place_objects(rng, specs, accept=lambda objs: not heldout.scene_touches(objs))


def _recolor(rng, objects, split, heldout, held_pair=None):
    if held_pair:
        color, shape = held_pair
        index = next(i for i, o in enumerate(objects) if o.shape == shape)
    else:
        index = rng.randrange(len(objects))
        shape = objects[index].shape
        options = heldout.allowed_colors(shape) if split == "train" else list(COLORS)
        color = rng.choice([c for c in options if c != objects[index].color])
    if objects[index].color == color:
        return None
    target = list(objects)
    target[index] = objects[index].replace(color=color)
    return fill(rng.choice(EDIT["recolor"]), shape=shape, color=color), target


def _add(rng, objects, split, heldout, held_pair=None):
    if held_pair:
        color, shape = held_pair
    else:
        shape = rng.choice(SHAPES)
        color = rng.choice(heldout.allowed_colors(shape) if split == "train" else list(COLORS))
    size = sample_size(rng, len(objects) + 1)
    low, high = EDGE_MARGIN + size / 2, 1 - EDGE_MARGIN - size / 2
    for _ in range(MAX_TRIES):
        new = ShapeObject(shape, color, (rng.uniform(low, high), rng.uniform(low, high)), size)
        if fits(new, objects):
            return fill(rng.choice(EDIT["add"]), shape=shape, color=color), list(objects) + [new]
    return None


def _remove(rng, objects, split, heldout, held_pair=None):
    index = rng.randrange(len(objects))
    obj = objects[index]
    instruction = fill(rng.choice(EDIT["remove"]), shape=obj.shape, color=obj.color)
    return instruction, [o for i, o in enumerate(objects) if i != index]


def _move(rng, objects, split, heldout, held_pair=None):
    index = rng.randrange(len(objects))
    obj = objects[index]
    direction = rng.choice(list(DIRECTIONS))
    axis, sign = DIRECTIONS[direction]
    # Destination: the outer fifth of the canvas on that side, other coordinate unchanged.
    edge = EDGE_MARGIN + obj.size / 2 + rng.uniform(0, 0.05)
    coordinate = edge if sign < 0 else 1 - edge
    center = list(obj.center)
    if abs(center[axis] - coordinate) < MIN_MOVE:
        return None
    center[axis] = coordinate
    moved = obj.replace(center=tuple(center))
    others = [o for i, o in enumerate(objects) if i != index]
    if not fits(moved, others):
        return None
    instruction = fill(rng.choice(EDIT["move"]), shape=obj.shape, color=obj.color, direction=direction)
    return instruction, others[:index] + [moved] + others[index:]


EDITORS = {"recolor": _recolor, "add": _add, "remove": _remove, "move": _move}


def make_edit_item(kind: str, rng: random.Random, split: str, heldout: HeldOut) -> EditItem:
    held_pair = rng.choice(sorted(heldout.color_shapes)) if split == "heldout" else None
    for _ in range(MAX_TRIES):
        n = rng.randint(2 if kind in ("remove", "move") else 1, 3)
        must_have = held_pair[1] if held_pair and kind == "recolor" else None
        objects = _source_objects(rng, split, heldout, n, must_have)
        result = EDITORS[kind](rng, objects, split, heldout, held_pair)
        if result is None:
            continue
        instruction, target = result
        if split == "train" and heldout.scene_touches(target):
            continue
        background = rng.choice(list(BACKGROUNDS))
        return EditItem(kind, instruction, Scene(tuple(objects), background), Scene(tuple(target), background))
    raise RuntimeError(f"could not make a {kind} edit")


def edit_items(n: int, split: str, seed: int, heldout: HeldOut, add_grid: int | None = None) -> list[EditItem]:
    """n edits of the split, kinds in turn. add_grid: see `place_added` (None: the generator's random place)."""
    kinds = EDIT_KINDS if split == "train" else HELDOUT_EDIT_KINDS
    items = [make_edit_item(kinds[i % len(kinds)], item_rng(seed, split, "edit", i), split, heldout) for i in range(n)]
    return items if add_grid is None else [place_added(item, add_grid) for item in items]


def place_added(item: EditItem, grid: int) -> EditItem:
    """An "add" with its new object moved to the centre of the first cell of a grid x grid split of the picture (in
    reading order) that holds no source object's centre and where the object fits (the centre pulled inside the
    canvas margins for a large object); other kinds, or an add with no such cell, unchanged. Why: "add a red star"
    names no place, so a random one cannot be learnt, while the judge takes any place (`placed_anywhere`). Training
    data only: the evaluation's items keep the random place."""
    if grid < 1:
        raise ValueError(f"add grid must be >= 1 cells a side, got {grid}")
    if item.kind != "add":
        return item
    taken = {grid_cell(o.center, grid, grid) for o in item.source.objects}
    new = item.target.objects[-1]
    low, high = EDGE_MARGIN + new.size / 2, 1 - EDGE_MARGIN - new.size / 2
    for c in range(grid * grid):
        # The cell's centre, pulled inside the canvas margins when a large object would cross them.
        center = tuple(min(high, max(low, (k + 0.5) / grid)) for k in (c % grid, c // grid))
        moved = new.replace(center=center)
        if c not in taken and fits(moved, list(item.source.objects)):
            target = Scene(item.target.objects[:-1] + (moved,), item.target.background)
            return EditItem(item.kind, item.instruction, item.source, target)
    return item


def placed_anywhere(item: EditItem) -> tuple[int, ...]:
    """Target objects whose place the instruction leaves open: the new object of an "add" (appended last)."""
    return (len(item.target.objects) - 1,) if item.kind == "add" else ()


def edit_metadata(item: EditItem) -> dict:
    return {
        "task": "edit",
        "tag": item.kind,
        "instruction": item.instruction,
        "source_scene": item.source.to_dict(),
        "target_scene": item.target.to_dict(),
        "placed_anywhere": list(placed_anywhere(item)),
    }
