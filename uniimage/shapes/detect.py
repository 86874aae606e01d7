"""Find the coloured shapes in an RGB image: palette segmentation, connected components per
colour, small or core-less components dropped, shape classified, bbox centre and size measured.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy import ndimage

from .classify import UNKNOWN, classify_shape
from .features import ShapeFeatures, shape_features
from .segment import COLOR_NAMES, DEFAULT_MAX_DISTANCE, segment_colors

MAX_SIDE = 256  # larger inputs are box-downscaled first: same answer, much faster
MIN_AREA_FRACTION = 0.003  # of the image area; smaller components are noise or edge fringes
EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)  # star points touch diagonally at small sizes


@dataclass(frozen=True)
class Detection:
    shape: str  # one of SHAPES or "unknown"
    color: str
    center: tuple[float, float]  # bbox centre (as in scenes and GenEval), fractions of width / height
    size: float  # mean of bbox width and height, fraction of the image side
    bbox: tuple[int, int, int, int]  # x0, y0, x1, y1 in pixels (exclusive end)
    features: ShapeFeatures


def to_rgb_array(image) -> np.ndarray:
    if isinstance(image, Image.Image):
        image = image.convert("RGB")
        if max(image.size) > MAX_SIDE:
            scale = MAX_SIDE / max(image.size)
            new_size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
            image = image.resize(new_size, Image.Resampling.BOX)
        return np.asarray(image, dtype=np.uint8)
    array = np.asarray(image)
    if array.ndim != 3 or array.shape[2] not in (3, 4) or array.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 array, got {array.shape} {array.dtype}")
    if max(array.shape[:2]) > MAX_SIDE:
        return to_rgb_array(Image.fromarray(array[..., :3]))
    return array[..., :3]


def _has_core(mask: np.ndarray) -> bool:
    """True unless the component is a one- or two-pixel-thin fringe (anti-aliasing halo)."""
    return bool(ndimage.binary_erosion(mask, structure=np.ones((3, 3), dtype=bool)).any())


def detect_objects(image, max_distance: float = DEFAULT_MAX_DISTANCE) -> list[Detection]:
    rgb = to_rgb_array(image)
    height, width = rgb.shape[:2]
    min_area = MIN_AREA_FRACTION * height * width
    labels = segment_colors(rgb, max_distance)
    detections = []
    for color_index, color in enumerate(COLOR_NAMES):
        components, count = ndimage.label(labels == color_index, structure=EIGHT_CONNECTED)
        for index, window in enumerate(ndimage.find_objects(components), start=1):
            mask = components[window] == index
            if mask.sum() < min_area or not _has_core(np.pad(mask, 1)):
                continue
            y0, x0 = window[0].start, window[1].start
            features = shape_features(mask)
            detections.append(
                Detection(
                    shape=classify_shape(features),
                    color=color,
                    center=((x0 + mask.shape[1] / 2) / width, (y0 + mask.shape[0] / 2) / height),
                    size=(mask.shape[1] / width + mask.shape[0] / height) / 2,
                    bbox=(x0, y0, window[1].stop, window[0].stop),
                    features=features,
                )
            )
    return detections


def known(detections: list[Detection]) -> list[Detection]:
    return [d for d in detections if d.shape != UNKNOWN]
