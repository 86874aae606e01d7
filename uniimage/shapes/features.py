"""Scale-free shape descriptors of one binary component.

The convex hull is taken over pixel corners (not centres) so that a solid n x n square has hull
area exactly n^2; only the leftmost and rightmost pixel of each row can be hull vertices, so only
those are fed to the hull.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.spatial import ConvexHull


@dataclass(frozen=True)
class ShapeFeatures:
    area: int
    fill: float  # area / bounding-box area: circle ~0.79, square 1, triangle 0.5, star ~0.35
    solidity: float  # area / convex-hull area: ~1 for convex shapes, ~0.55 for the star
    roundness: float  # 4 pi A / P^2 of the hull: circle ~1, square 0.785, triangle ~0.6
    aspect: float  # bbox width / height
    rectangularity: float  # hull area / smallest enclosing rectangle: square 1, circle 0.79, triangle 0.5


def hull_of(points: list[tuple[float, float]]) -> tuple[list[tuple[float, float]], float, float]:
    """(hull vertices counter-clockwise, area, perimeter): scipy's Qhull (2-D `volume` is the area, `area` the perimeter)."""
    hull = ConvexHull(np.asarray(points, dtype=np.float64))
    return [tuple(hull.points[i]) for i in hull.vertices], float(hull.volume), float(hull.area)


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
    hull, hull_area, hull_perimeter = hull_of(row_extreme_corners(mask))
    rectangle_area = min_rectangle_area(hull)
    return ShapeFeatures(
        area=area,
        fill=area / (width * height),
        solidity=area / hull_area if hull_area else 0.0,
        roundness=4 * math.pi * hull_area / hull_perimeter**2 if hull_perimeter else 0.0,
        aspect=width / height,
        rectangularity=hull_area / rectangle_area if rectangle_area else 0.0,
    )
