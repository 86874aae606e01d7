"""Scale-free shape descriptors of one binary component.

The convex hull is taken over pixel corners (not centres) so that a solid n x n square has hull
area exactly n^2; only the leftmost and rightmost pixel of each row can be hull vertices, so only
those are fed to the hull.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ShapeFeatures:
    area: int
    fill: float  # area / bounding-box area: circle ~0.79, square 1, triangle 0.5, star ~0.35
    solidity: float  # area / convex-hull area: ~1 for convex shapes, ~0.55 for the star
    roundness: float  # 4 pi A / P^2 of the hull: circle ~1, square 0.785, triangle ~0.6
    aspect: float  # bbox width / height
    rectangularity: float  # hull area / smallest enclosing rectangle: square 1, circle 0.79, triangle 0.5


def _cross(o, a, b) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def convex_hull(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Andrew's monotone chain; counter-clockwise, no repeated end point."""
    points = sorted(set(points))
    if len(points) <= 2:
        return points
    lower: list = []
    for p in points:
        while len(lower) >= 2 and _cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    upper: list = []
    for p in reversed(points):
        while len(upper) >= 2 and _cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return lower[:-1] + upper[:-1]


def polygon_area_perimeter(polygon: list[tuple[float, float]]) -> tuple[float, float]:
    area2 = 0.0
    perimeter = 0.0
    for (x0, y0), (x1, y1) in zip(polygon, polygon[1:] + polygon[:1]):
        area2 += x0 * y1 - x1 * y0
        perimeter += math.hypot(x1 - x0, y1 - y0)
    return abs(area2) / 2, perimeter


def min_rectangle_area(polygon: list[tuple[float, float]]) -> float:
    """Smallest enclosing rectangle of a convex polygon: one of its sides lies on a hull edge."""
    points = np.asarray(polygon, dtype=np.float64)
    edges = np.roll(points, -1, axis=0) - points
    lengths = np.hypot(edges[:, 0], edges[:, 1])
    best = math.inf
    for (ex, ey), length in zip(edges, lengths):
        if length == 0:
            continue
        along = (points[:, 0] * ex + points[:, 1] * ey) / length
        across = (points[:, 1] * ex - points[:, 0] * ey) / length
        best = min(best, float(np.ptp(along) * np.ptp(across)))
    return best


def row_extreme_corners(mask: np.ndarray) -> list[tuple[float, float]]:
    corners = []
    for y in np.flatnonzero(mask.any(1)):
        xs = np.flatnonzero(mask[y])
        for x in (xs[0], xs[-1] + 1):  # left edge of first pixel, right edge of last
            corners.append((float(x), float(y)))
            corners.append((float(x), float(y + 1)))
    return corners


def shape_features(mask: np.ndarray) -> ShapeFeatures:
    """`mask`: a boolean array cropped to (or containing) a single component."""
    ys, xs = np.nonzero(mask)
    area = int(len(xs))
    width = int(xs.max() - xs.min() + 1)
    height = int(ys.max() - ys.min() + 1)
    hull = convex_hull(row_extreme_corners(mask))
    hull_area, hull_perimeter = polygon_area_perimeter(hull)
    rectangle_area = min_rectangle_area(hull)
    return ShapeFeatures(
        area=area,
        fill=area / (width * height),
        solidity=area / hull_area if hull_area else 0.0,
        roundness=4 * math.pi * hull_area / hull_perimeter**2 if hull_perimeter else 0.0,
        aspect=width / height,
        rectangularity=hull_area / rectangle_area if rectangle_area else 0.0,
    )
