"""The model a run starts from: a preset, a published-format checkpoint, a previous run (its newest
checkpoint, or one named), or fresh from base Qwen2.5-VL + SANA components."""

from __future__ import annotations

from pathlib import Path

import torch

from ..errors import CheckpointError
from .checkpointing import is_checkpoint, latest_checkpoint
from .config import ModelSource


def run_checkpoint(path: Path) -> Path | None:
    """`path` itself if it is a training checkpoint, else the newest one of a run folder, else None."""
    if is_checkpoint(path):
        return path
    return latest_checkpoint(path)


def load_model(source: ModelSource, dtype: torch.dtype = torch.float32):
    """-> (model, processor, components), all weights in `dtype`."""
    model, processor, components = _load(source, dtype)
    if source.query_init == "zeros":
        with torch.no_grad():
            model.queries.zero_()
    elif source.query_init == "noise":
        model.query_embedding.init_queries_as_noise(source.query_init_scale, torch.Generator().manual_seed(source.seed))
    elif source.query_init == "text":
        ids = processor.tokenizer(str(source.query_init_text), add_special_tokens=False).input_ids
        model.query_embedding.init_queries_from_tokens(ids)
    return model, processor, components


def _load(source: ModelSource, dtype: torch.dtype):
    if source.preset:
        from ..presets import build_preset, preset_folder

        if preset_folder(source.preset) is None:
            raise CheckpointError(f"unknown preset {source.preset!r}")
        return build_preset(source.preset, dtype, seed=source.seed, **source.overrides)
    if source.mllm:
        from ..checkpoint.pretrained import from_components

        return from_components(source.mllm, source.diffusion, torch_dtype=dtype, seed=source.seed, **source.overrides)
    path = Path(source.pretrained).expanduser()
    checkpoint = run_checkpoint(path) if path.is_dir() else None
    if checkpoint is not None:
        from .export import load_trained_model

        return load_trained_model(checkpoint, dtype)
    from ..checkpoint.pretrained import load_pretrained

    return load_pretrained(str(path), dtype, **source.overrides)
