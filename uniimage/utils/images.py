"""Safe image input: every image a user hands us goes through `load_image`.

Pillow decodes lazily and happily opens decompression bombs, truncated files and exotic modes; here
each of those becomes an `ImageInputError` that names the problem, or an RGB image.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import Union

import numpy as np
from PIL import Image

from ..errors import InputError

# 64 megapixels: far above anything the model uses (it resizes to ~0.2 MP), far below a bomb.
DEFAULT_MAX_PIXELS = 64 * 1024 * 1024

ImageLike = Union[str, os.PathLike, bytes, Image.Image, np.ndarray]


class ImageInputError(InputError):
    """An input image that cannot be used; the message says why."""


def _open(source, max_pixels: int) -> Image.Image:
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.exists():
            raise ImageInputError(f"image file not found: {path}")
        if not path.is_file():
            raise ImageInputError(f"not a file: {path}")
        try:
            data = path.read_bytes()
        except OSError as e:
            raise ImageInputError(f"cannot read image file {path}: {e.strerror or e}") from e
        name = str(path)
    elif isinstance(source, (bytes, bytearray, memoryview)):
        data, name = bytes(source), "uploaded image"
    else:
        raise ImageInputError(f"unsupported image input of type {type(source).__name__}")
    if not data:
        raise ImageInputError(f"{name} is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            w, h = img.size
            if w * h > max_pixels:
                raise ImageInputError(
                    f"{name} is {w}x{h} = {w * h} pixels, over the limit of {max_pixels} (decompression bomb guard)"
                )
            img.load()
    except ImageInputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise ImageInputError(f"{name} is too large to decode safely (decompression bomb guard): {e}") from e
    except Image.UnidentifiedImageError as e:
        raise ImageInputError(f"{name} is not an image file Pillow can read") from e
    except (OSError, SyntaxError, ValueError) as e:
        raise ImageInputError(f"{name} is truncated or corrupt: {e}") from e
    return img


def to_rgb(img: Image.Image) -> Image.Image:
    """Any Pillow mode to 8-bit RGB; transparency is composited on white."""
    if img.mode == "RGB":
        return img
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        hi = 65535.0 if img.mode.startswith("I;16") or arr.max() > 255 else 255.0
        arr = np.clip(arr / hi * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(arr, "L").convert("RGB")
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")


def load_image(source: ImageLike, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Open a path, bytes, PIL image or HxWxC uint8 array as an RGB PIL image, or raise ImageInputError."""
    if isinstance(source, Image.Image):
        w, h = source.size
        if w * h > max_pixels:
            raise ImageInputError(f"image is {w}x{h} = {w * h} pixels, over the limit of {max_pixels}")
        img = source
    elif isinstance(source, np.ndarray):
        if source.ndim not in (2, 3) or source.dtype != np.uint8:
            raise ImageInputError(f"array images must be HxW or HxWxC uint8, got {source.shape} {source.dtype}")
        img = Image.fromarray(source)
    else:
        img = _open(source, max_pixels)
    if min(img.size) < 1:
        raise ImageInputError(f"image has an empty size {img.size}")
    return to_rgb(img)
