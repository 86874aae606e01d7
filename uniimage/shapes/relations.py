"""Relative position between two objects, shared by the scene sampler and the scorer so that
"a is left of b" means the same thing when data are made and when images are judged.

An object here is anything with `center` (x, y) and `size` (image fractions, y downwards).
Like GenEval, a relation holds when the centre offset points within 60 degrees of the relation's
axis and, along that axis, exceeds `margin` times the objects' mean size.
"""

from __future__ import annotations

import math

# Unit direction from a to b for "a <relation> b": a left of b means b lies to the right (+x).
_AXIS = {"left of": (1.0, 0.0), "right of": (-1.0, 0.0), "above": (0.0, 1.0), "below": (0.0, -1.0)}


def relation_holds(a, b, relation: str, margin: float = 0.1, cone: float = 0.5) -> bool:
    """`cone` is the cosine of the widest accepted angle off the axis (0.5: 60 degrees)."""
    ux, uy = _AXIS[relation]
    dx, dy = b.center[0] - a.center[0], b.center[1] - a.center[1]
    along = dx * ux + dy * uy
    distance = math.hypot(dx, dy)
    if distance == 0:
        return False
    return along > margin * (a.size + b.size) / 2 and along > cone * distance


def relations_between(a, b, margin: float = 0.1) -> list[str]:
    return [relation for relation in _AXIS if relation_holds(a, b, relation, margin)]
