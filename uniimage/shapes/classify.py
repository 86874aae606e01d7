"""Shape name from `ShapeFeatures`, by thresholds measured on ground-truth renders at 32-128 px
(see tests/shapes/test_classify.py). All features are rotation-free.

Rectangularity singles out squares; low solidity the one non-convex shape (star); the hull's
roundness splits circles from triangles. Tiny stars (8 px) blur toward convex, so the middle band
of solidity is settled by roundness. Blobs that fit no shape are "unknown".
"""

from __future__ import annotations

from .features import ShapeFeatures

SQUARE_MIN_RECTANGULARITY = 0.96
SQUARE_MAX_ROUNDNESS = 0.88  # an 8 px circle can look rectangular, but its hull stays rounder
STAR_MAX_SOLIDITY = 0.72  # surely a star below this
CONVEX_MIN_SOLIDITY = 0.84  # surely convex above this
CIRCLE_MIN_ROUNDNESS = 0.87
TRIANGLE_MAX_ROUNDNESS = 0.825
BLOB_MIN_SOLIDITY = 0.3  # below this it is noise or a thin stroke, not one of our shapes
MAX_ASPECT = 1.8  # our shapes have square-ish bounding boxes

UNKNOWN = "unknown"


def classify_shape(f: ShapeFeatures) -> str:
    if not 1 / MAX_ASPECT <= f.aspect <= MAX_ASPECT or f.solidity < BLOB_MIN_SOLIDITY:
        return UNKNOWN
    if (
        f.rectangularity >= SQUARE_MIN_RECTANGULARITY
        and f.roundness < SQUARE_MAX_ROUNDNESS
        and f.solidity >= CONVEX_MIN_SOLIDITY
    ):
        return "square"
    if f.solidity < STAR_MAX_SOLIDITY:
        return "star"
    if f.roundness < TRIANGLE_MAX_ROUNDNESS:
        return "triangle"
    if f.solidity >= CONVEX_MIN_SOLIDITY and f.roundness >= CIRCLE_MIN_ROUNDNESS:
        return "circle"
    return "star"  # round hull but dented: a small star
