"""Outline polygons of the shapes, in pixel coordinates, axis-aligned (square upright, triangle and
star pointing up). A circle is returned as its bounding box, since PIL draws ellipses directly.
"""

from __future__ import annotations

import math

# Inner/outer radius of the five-pointed star: low enough that the star is clearly non-convex
# (solidity ~0.55), high enough that its points survive at 32 px.
STAR_INNER_RATIO = 0.45


def star_points(cx: float, cy: float, outer: float) -> list[tuple[float, float]]:
    points = []
    for k in range(10):
        radius = outer if k % 2 == 0 else outer * STAR_INNER_RATIO
        angle = -math.pi / 2 + k * math.pi / 5  # first point straight up
        points.append((cx + radius * math.cos(angle), cy + radius * math.sin(angle)))
    # Centre the star's bounding box vertically on cy (its points reach further up than down).
    top = min(p[1] for p in points)
    bottom = max(p[1] for p in points)
    shift = cy - (top + bottom) / 2
    return [(x, y + shift) for x, y in points]


def triangle_points(cx: float, cy: float, side: float) -> list[tuple[float, float]]:
    """Isosceles triangle with base = height = side, apex up."""
    half = side / 2
    return [(cx, cy - half), (cx + half, cy + half), (cx - half, cy + half)]


def square_points(cx: float, cy: float, side: float) -> list[tuple[float, float]]:
    half = side / 2
    return [(cx - half, cy - half), (cx + half, cy - half), (cx + half, cy + half), (cx - half, cy + half)]


def outline(shape: str, cx: float, cy: float, side: float):
    """Polygon vertices for PIL's `polygon`, or a bbox for `ellipse` when shape is a circle."""
    if shape == "circle":
        half = side / 2
        return (cx - half, cy - half, cx + half, cy + half)
    if shape == "square":
        return square_points(cx, cy, side)
    if shape == "triangle":
        return triangle_points(cx, cy, side)
    if shape == "star":
        # Scale the outer radius so the star's width fills `side` (width = 2 * outer * sin 72deg).
        return star_points(cx, cy, side / (2 * math.sin(2 * math.pi / 5)))
    raise ValueError(f"unknown shape {shape!r}")
