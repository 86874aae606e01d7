"""Sample grids during training: fixed prompts (and edits) drawn with the current weights, same seed
every time, so grids of successive steps are comparable. One row per request: [input | output]."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..errors import ConfigError
from .config import EvalConfig


def eval_requests(cfg: EvalConfig, output_dir: Path) -> list[tuple[str, Image.Image | None]]:
    requests = [(p, None) for p in cfg.prompts]
    for edit in cfg.edits:
        if not isinstance(edit, dict) or set(edit) != {"prompt", "image"}:
            raise ConfigError(f"eval.edits entries are {{prompt, image}}, got {edit!r}")
        path = Path(edit["image"])
        path = path if path.is_absolute() or path.exists() else Path(output_dir) / path
        requests.append((edit["prompt"], Image.open(path).convert("RGB")))
    return requests


@torch.no_grad()
def sample_grid(model, processor, components, cfg: EvalConfig, output_dir: Path) -> Image.Image | None:
    from ..pipelines import UniImagePipeline
    from ..pipelines.schedulers import load_sampler

    requests = eval_requests(cfg, output_dir)
    if not requests:
        return None
    pipe = UniImagePipeline.from_model(model, processor, load_sampler(components.scheduler_dir), components)
    # Every module's own mode comes back afterwards (the VAE stays in eval mode while the rest trains):
    # a run that sampled must go on exactly like one resumed after the sample.
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        rows = []
        for k, (prompt, image) in enumerate(requests):
            out = pipe(prompt, image=image, num_inference_steps=cfg.steps, guidance_scale=cfg.guidance,
                       image_guidance_scale=cfg.image_guidance, generator=torch.Generator().manual_seed(cfg.seed + k),
                       progress=False).images[0]
            source = image.resize(out.size) if image is not None else Image.new("RGB", out.size)
            rows.append((source, out))
    finally:
        for m, training in modes:
            m.training = training
    w, h = rows[0][1].size
    grid = Image.new("RGB", (2 * w, h * len(rows)))
    for r, (source, out) in enumerate(rows):
        grid.paste(source, (0, r * h))
        grid.paste(out, (w, r * h))
    return grid


def grid_array(grid: Image.Image) -> np.ndarray:
    """HWC uint8, for tensorboard's add_image(dataformats="HWC")."""
    return np.asarray(grid.convert("RGB"))
