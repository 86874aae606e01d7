"""Scene images for the autoencoder: every 64 px PNG the stage-0 data step wrote (t2i and VQA
scenes), held in memory as uint8 and served as [-1, 1] batches with random flips (scenes have no
preferred side, and a flipped scene is still a valid scene)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image


def load_images(data_dir: Path, side: int, split: str = "train", limit: int | None = None) -> torch.Tensor:
    """uint8 [N, 3, side, side]; files sorted, so the set is deterministic."""
    paths = sorted((Path(data_dir) / "images" / split).glob("*.png"))[:limit]
    arrays = [np.asarray(Image.open(p).convert("RGB").resize((side, side), Image.Resampling.BOX)) for p in paths]
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()


def to_unit(images_uint8: torch.Tensor) -> torch.Tensor:
    return images_uint8.float() / 127.5 - 1.0


def batch(images: torch.Tensor, size: int, generator: torch.Generator) -> torch.Tensor:
    index = torch.randint(len(images), (size,), generator=generator)
    x = to_unit(images[index])
    flip = torch.rand(size, generator=generator) < 0.5
    x[flip] = x[flip].flip(-1)
    return x
