"""Deterministic rendering of a `Scene` to an RGB PIL image.

Drawn at `SUPERSAMPLE` x the size and box-filtered down, so edges are anti-aliased the way a
generated image's would be; the scorer must cope with the blended edge pixels.
"""

from __future__ import annotations

from PIL import Image, ImageDraw

from .geometry import outline
from .scene import Scene
from .vocab import BACKGROUNDS, COLORS

SUPERSAMPLE = 4
DEFAULT_IMAGE_SIZE = 64


def render_scene(scene: Scene, image_size: int = DEFAULT_IMAGE_SIZE, antialias: bool = True) -> Image.Image:
    if image_size < 16:
        raise ValueError(f"image_size must be >= 16, got {image_size}")
    scale = SUPERSAMPLE if antialias else 1
    canvas_size = image_size * scale
    image = Image.new("RGB", (canvas_size, canvas_size), BACKGROUNDS[scene.background])
    draw = ImageDraw.Draw(image)
    for obj in scene.objects:
        cx, cy = obj.center[0] * canvas_size, obj.center[1] * canvas_size
        geometry = outline(obj.shape, cx, cy, obj.size * canvas_size)
        fill = COLORS[obj.color]
        if obj.shape == "circle":
            draw.ellipse(geometry, fill=fill)
        else:
            draw.polygon(geometry, fill=fill)
    if scale > 1:
        image = image.resize((image_size, image_size), Image.Resampling.BOX)
    return image
