"""The one sample format the training loop consumes, and how a list of them becomes a batch.

sample = {"target": FloatTensor [3, S, S] in [-1, 1], "caption": str,
          "source_images": list[PIL.Image RGB] (empty for text-to-image), "kind": "t2i" | "edit", "key": str}
"""

from __future__ import annotations

import torch
from PIL import Image

KINDS = ("t2i", "edit")


def make_sample(target: torch.Tensor, caption: str, source_images: list[Image.Image], key: str) -> dict:
    return {
        "target": target,
        "caption": caption,
        "source_images": list(source_images),
        "kind": "edit" if source_images else "t2i",
        "key": key,
    }


def collate(samples: list[dict]) -> dict:
    """Stack targets to [B, 3, S, S] (cached latents: `latent` [B, C, h, w]); captions, source image lists,
    kinds and keys stay Python lists."""
    if not samples:
        raise ValueError("cannot collate an empty batch")
    field = "latent" if "latent" in samples[0] else "target"
    if any(field not in s for s in samples):
        raise ValueError("cannot batch cached latents with pixel samples: cache every data set of a mixture")
    return {
        field: torch.stack([s[field] for s in samples]),
        "caption": [s["caption"] for s in samples],
        "source_images": [list(s["source_images"]) for s in samples],
        "kind": [s["kind"] for s in samples],
        "key": [s["key"] for s in samples],
    }
