"""The held-out combinations: colour-shape pairs and position triples that the training split never
shows (in any caption, instruction, question or rendered scene) and the `heldout` split is made of.

They are drawn once from `HELDOUT_SEED`, independent of the data seed, so training data made with
any seed stays disjoint from evaluation data made with any other.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass

from .relations import relation_holds
from .vocab import COLORS, MIRROR, SHAPES

HELDOUT_SEED = 0
# Canonical relations: every position fact is stored as "a left of b" or "a above b".
CANONICAL = {"left of": False, "above": False, "right of": True, "below": True}  # value: swap?


def canonical_triple(a: str, relation: str, b: str) -> tuple[str, str, str]:
    return (b, MIRROR[relation], a) if CANONICAL[relation] else (a, relation, b)


@dataclass(frozen=True)
class HeldOut:
    color_shapes: frozenset  # of (color, shape)
    positions: frozenset  # of canonical (shape_a, relation, shape_b)

    def has_color_shape(self, color: str, shape: str) -> bool:
        return (color, shape) in self.color_shapes

    def has_position(self, a: str, relation: str, b: str) -> bool:
        return canonical_triple(a, relation, b) in self.positions

    def allowed_colors(self, shape: str) -> list[str]:
        return [c for c in COLORS if (c, shape) not in self.color_shapes]

    def scene_touches(self, objects) -> bool:
        """True if any object, or any pair's relation, is held out. Relations are read loosely
        (no margin, 60-degree cone) so that nothing the scorer could call held-out leaks."""
        if any(self.has_color_shape(o.color, o.shape) for o in objects):
            return True
        for a, b in itertools.permutations(objects, 2):
            for relation in ("left of", "above"):
                if (a.shape, relation, b.shape) in self.positions and relation_holds(a, b, relation, margin=0.0):
                    return True
        return False


def heldout_combinations(seed: int = HELDOUT_SEED) -> HeldOut:
    """One colour per shape (distinct colours), so every shape and colour still occurs in training;
    and two position triples over two different shape pairs, one horizontal, one vertical."""
    rng = random.Random(f"heldout:{seed}")
    colors = rng.sample(list(COLORS), len(SHAPES))
    color_shapes = frozenset(zip(colors, SHAPES))
    pairs = rng.sample(list(itertools.combinations(SHAPES, 2)), 2)
    positions = set()
    for (a, b), relation in zip(pairs, ("left of", "above")):
        if rng.random() < 0.5:
            a, b = b, a
        positions.add((a, relation, b))
    return HeldOut(color_shapes=color_shapes, positions=frozenset(positions))
