"""Condition dropout for classifier-free guidance, as published (REFERENCE.md section 5).

Text-to-image: the caption is emptied with p 0.1.
Editing / mixed: one u ~ U(0, 1) per sample; the caption is emptied when u < 0.2 and the input images
become black images of the same size when 0.1 <= u < 0.3 (so 0.1 <= u < 0.2 drops both: unconditional).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch
from PIL import Image

MODES = ("t2i", "edit", "auto")


@dataclass(frozen=True)
class DropoutConfig:
    # "t2i": the text-to-image rule for every sample; "edit": the editing/mixed rule for every sample
    # (stages 2 and 3); "auto": pick the rule from each sample's kind.
    mode: str = "auto"
    t2i_caption_p: float = 0.1
    edit_caption_below: float = 0.2
    edit_images_from: float = 0.1
    edit_images_below: float = 0.3

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"dropout mode must be one of {MODES}, got {self.mode!r}")
        for name in ("t2i_caption_p", "edit_caption_below", "edit_images_from", "edit_images_below"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"dropout {name} must be in [0, 1], got {getattr(self, name)}")


def uniform(rng: random.Random | torch.Generator) -> float:
    """One U(0, 1) draw from either kind of generator."""
    if isinstance(rng, torch.Generator):
        return float(torch.rand((), generator=rng).item())
    return rng.random()


def black_like(img: Image.Image) -> Image.Image:
    return Image.new("RGB", img.size)


def apply_cfg_dropout(sample: dict, rng: random.Random | torch.Generator, config: DropoutConfig = DropoutConfig()) -> dict:
    """Return a copy of `sample` with its caption and/or input images dropped; one draw per sample."""
    out = dict(sample)
    u = uniform(rng)
    rule = sample["kind"] if config.mode == "auto" else config.mode
    if rule == "t2i":
        if u < config.t2i_caption_p:
            out["caption"] = ""
        return out
    if u < config.edit_caption_below:
        out["caption"] = ""
    if config.edit_images_from <= u < config.edit_images_below:
        out["source_images"] = [black_like(im) for im in sample["source_images"]]
    return out


def dropout_config(value) -> DropoutConfig | None:
    """A spec's `cfg_dropout` entry (None/False, a mode name, or a dict of DropoutConfig fields) as a config."""
    if value is None or value is False:
        return None
    if isinstance(value, DropoutConfig):
        return value
    if isinstance(value, str):
        return DropoutConfig(mode=value)
    if isinstance(value, dict):
        return DropoutConfig(**value)
    raise ValueError(f"cfg_dropout must be a mode name or a dict, got {value!r}")
