"""Seeded placement of shapes on the canvas without overlaps.

Objects keep a clear gap between bounding boxes so that same-coloured shapes never merge into one
connected component, even at 32 px.
"""

from __future__ import annotations

import random

from .relations import relation_holds
from .scene import ShapeObject

# Object size (fraction of the image side) by how many objects share the canvas.
SIZE_RANGE = {1: (0.32, 0.42), 2: (0.28, 0.36), 3: (0.26, 0.3), 4: (0.24, 0.28)}
EDGE_MARGIN = 0.04  # keep shapes off the border
MIN_GAP = 0.08  # between bounding boxes: >= 2.5 px at 32 px
MAX_TRIES = 500  # whole layouts
TRIES_PER_OBJECT = 50


class LayoutError(RuntimeError):
    """No placement satisfied the constraints within MAX_TRIES."""


def grid_cell(center: tuple[float, float], rows: int, cols: int) -> int:
    """Row-major index of the cell of a rows x cols split of the picture that holds a centre in [0, 1]^2 (the far
    edge belongs to the last cell)."""
    x, y = center
    return min(rows - 1, int(y * rows)) * cols + min(cols - 1, int(x * cols))


def sample_size(rng: random.Random, n_objects: int) -> float:
    low, high = SIZE_RANGE[min(max(n_objects, 1), 4)]
    return rng.uniform(low, high)


def sample_center(rng: random.Random, size: float) -> tuple[float, float]:
    low, high = EDGE_MARGIN + size / 2, 1 - EDGE_MARGIN - size / 2
    return (rng.uniform(low, high), rng.uniform(low, high))


def boxes_clear(a: ShapeObject, b: ShapeObject, gap: float = MIN_GAP) -> bool:
    ax0, ay0, ax1, ay1 = a.bbox()
    bx0, by0, bx1, by1 = b.bbox()
    return ax1 + gap <= bx0 or bx1 + gap <= ax0 or ay1 + gap <= by0 or by1 + gap <= ay0


def fits(candidate: ShapeObject, placed: list[ShapeObject]) -> bool:
    return all(boxes_clear(candidate, other) for other in placed)


def _try_place(rng: random.Random, shape: str, color: str, n_objects: int, placed: list[ShapeObject]):
    for _ in range(TRIES_PER_OBJECT):
        size = sample_size(rng, n_objects)
        candidate = ShapeObject(shape, color, sample_center(rng, size), size)
        if fits(candidate, placed):
            return candidate
    return None


def place_objects(rng: random.Random, specs: list[tuple[str, str]], accept=None) -> list[ShapeObject]:
    """Place (shape, colour) specs at random; `accept(objects)` may veto a whole layout."""
    for _ in range(MAX_TRIES):
        placed: list[ShapeObject] = []
        for shape, color in specs:
            candidate = _try_place(rng, shape, color, len(specs), placed)
            if candidate is None:
                break
            placed.append(candidate)
        if len(placed) == len(specs) and (accept is None or accept(placed)):
            return placed
    raise LayoutError(f"could not place {specs}")


def place_pair(rng: random.Random, a: tuple[str, str], relation: str, b: tuple[str, str], accept=None):
    """Two objects with `a relation b` clearly true (strict margin), others vetoed by `accept`."""

    def clear_relation(objects):
        first, second = objects
        return relation_holds(first, second, relation, margin=0.8, cone=0.85) and (accept is None or accept(objects))

    return place_objects(rng, [a, b], accept=clear_relation)
