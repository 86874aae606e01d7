"""Classifier-free guidance: the one place where conditional and unconditional predictions combine.

The CFG batch holds `num_groups` equal groups of rows, in this order:
  1 group : [cond]                                      -> c
  2 groups: [uncond, cond]                               -> u + g (c - u)
  3 groups: [uncond + black image, uncond + image, cond] -> u + s_img (u_img - u) + g (c - u_img)

A guidance interval [lo, hi] (Kynkaenniemi et al. 2024, "Applying guidance in a limited interval improves
sample and distribution quality in diffusion models") guides only the steps whose noise level sigma lies in
it; the others take the conditional prediction c alone. Guidance at the highest noise levels, where the
layout is decided, can push a sample towards an empty canvas: demo v6 drew one for 7 of 12 "a photo of a
star" at scale 4.5 with plain CFG and for 1 of 12 with [0, 0.8] (uniimage/demo/README.md, v7 section).
"""

from __future__ import annotations

import torch


def guided_prediction(pred: torch.Tensor, num_groups: int, guidance_scale: float, image_guidance_scale: float,
                      active: bool = True) -> torch.Tensor:
    """`active` False (a step outside the guidance interval): the conditional rows alone."""
    if num_groups == 1 or not active:
        return pred.chunk(num_groups)[-1]
    if num_groups == 2:
        uncond, cond = pred.chunk(2)
        return uncond + guidance_scale * (cond - uncond)
    if num_groups == 3:
        uncond, uncond_image, cond = pred.chunk(3)
        return uncond + image_guidance_scale * (uncond_image - uncond) + guidance_scale * (cond - uncond_image)
    raise ValueError(f"guidance needs 1, 2 or 3 row groups, got {num_groups}")


def guidance_groups(has_images: bool, guidance_scale: float, image_guidance_scale: float) -> list[tuple[bool, str]]:
    """Row groups as (use the caption?, which images: 'none' | 'black' | 'real'), in CFG order."""
    # A scale of exactly 1 makes its difference term vanish, so those rows need not be computed.
    images = "real" if has_images else "none"
    if has_images and image_guidance_scale != 1:
        return [(False, "black"), (False, "real"), (True, "real")]
    if guidance_scale != 1:
        return [(False, images), (True, images)]
    return [(True, images)]


def guided_steps(sigmas: list[float], interval) -> list[bool]:
    """Per step, whether its noise level lies in the guidance interval (every step when there is none)."""
    if interval is None:
        return [True] * len(sigmas)
    lo, hi = interval
    return [lo <= s <= hi for s in sigmas]
