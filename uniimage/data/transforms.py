"""Target image transform: short side to S, center crop S x S, float tensor in [-1, 1] (the published recipe)."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image


def resize_short_side(img: Image.Image, size: int, resample=Image.BICUBIC) -> Image.Image:
    """Scale so the short side is exactly `size` (up or down), keeping the aspect ratio."""
    w, h = img.size
    scale = size / min(w, h)
    # max() guards rounding: the short side must never fall under `size`.
    new = (max(size, round(w * scale)), max(size, round(h * scale)))
    return img if new == (w, h) else img.resize(new, resample=resample)


def center_crop(img: Image.Image, size: int) -> Image.Image:
    w, h = img.size
    left, top = (w - size) // 2, (h - size) // 2
    return img.crop((left, top, left + size, top + size))


def to_tensor(img: Image.Image) -> torch.Tensor:
    """RGB PIL image -> [3, H, W] float32 in [-1, 1]."""
    arr = np.asarray(img.convert("RGB"), dtype=np.float32)
    return torch.from_numpy(arr).permute(2, 0, 1).div(127.5).sub(1.0).contiguous()


class TargetTransform:
    """Callable RGB image -> [3, S, S] tensor; `status` says whether an image is fine, upscaled or rejected."""

    def __init__(self, size: int, min_size: int | None = None, resample=Image.BICUBIC):
        if size < 1:
            raise ValueError(f"image size must be positive, got {size}")
        self.size, self.min_size, self.resample = int(size), min_size, resample

    def status(self, img: Image.Image) -> str:
        short = min(img.size)
        if self.min_size is not None and short < self.min_size:
            return "too_small"
        return "upscaled" if short < self.size else "ok"

    def __call__(self, img: Image.Image) -> torch.Tensor:
        return to_tensor(center_crop(resize_short_side(img, self.size, self.resample), self.size))
