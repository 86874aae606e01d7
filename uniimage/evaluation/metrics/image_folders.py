"""Image files of a folder (recursive), read safely and batched as uint8 tensors for a feature network."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ...utils.images import load_image
from ...errors import ImageFolderError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp"}
# Our samplers' contact sheets: not samples, and counting them would skew the statistics.
SKIPPED_NAMES = {"grid.png"}


def is_image_file(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES and path.name not in SKIPPED_NAMES \
        and not path.name.startswith(".")


def list_images(folder: str | Path) -> list[Path]:
    """Sorted image files under `folder`; a missing or image-less folder is the user's error."""
    folder = Path(folder)
    if not folder.exists():
        raise ImageFolderError(f"image folder not found: {folder}")
    if not folder.is_dir():
        raise ImageFolderError(f"not a folder: {folder}")
    files = sorted(p for p in folder.rglob("*") if is_image_file(p))
    if not files:
        raise ImageFolderError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) under {folder}")
    return files


def to_uint8_tensor(images: list[Image.Image], size: int | None) -> torch.Tensor:
    """(N, 3, H, W) uint8; all images resized to `size` square (bicubic, as clean-fid does), so they stack."""
    arrays = []
    for image in images:
        if size is not None and image.size != (size, size):
            image = image.resize((size, size), Image.Resampling.BICUBIC)
        arrays.append(np.asarray(image.convert("RGB"), dtype=np.uint8))
    if len({a.shape for a in arrays}) > 1:
        raise ImageFolderError("images differ in size and the feature network gives no input size to resize to")
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()


def iter_batches(files: list[Path], batch_size: int, size: int | None):
    for start in range(0, len(files), batch_size):
        yield to_uint8_tensor([load_image(p) for p in files[start : start + batch_size]], size)
