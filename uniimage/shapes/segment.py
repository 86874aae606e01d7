"""Colour segmentation to the palette: each pixel goes to its nearest palette colour, or nowhere.

Backgrounds take part in the nearest-colour vote, so a half-covered edge pixel lands on whichever
of shape or background it is closer to (like a 50% coverage rule); pixels far from every palette
entry (shadows, text, noise) are left unassigned.
"""

from __future__ import annotations

import numpy as np

from .vocab import BACKGROUNDS, COLORS

COLOR_NAMES: tuple[str, ...] = tuple(COLORS)
UNASSIGNED = -1
DEFAULT_MAX_DISTANCE = 110.0  # RGB units; about half the palette's closest pair distance plus slack


def segment_colors(rgb: np.ndarray, max_distance: float = DEFAULT_MAX_DISTANCE) -> np.ndarray:
    """(H, W, 3) uint8 -> (H, W) int: index into COLOR_NAMES, or UNASSIGNED (background included)."""
    palette = np.array([COLORS[name] for name in COLOR_NAMES] + list(BACKGROUNDS.values()), dtype=np.float32)
    pixels = rgb.reshape(-1, 1, 3).astype(np.float32)
    distances = np.sqrt(((pixels - palette[None]) ** 2).sum(-1))
    nearest = distances.argmin(1)
    close_enough = distances[np.arange(len(nearest)), nearest] <= max_distance
    is_shape_color = nearest < len(COLOR_NAMES)
    labels = np.where(close_enough & is_shape_color, nearest, UNASSIGNED)
    return labels.reshape(rgb.shape[:2])
