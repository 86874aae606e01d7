"""The model a run starts from: a preset, a published-format checkpoint, a previous run (its newest
checkpoint, or one named), or fresh from base Qwen2.5-VL + SANA components."""

from __future__ import annotations

from pathlib import Path

import torch

from ..errors import CheckpointError
from . import checkpointing as ckpt
from .checkpointing import is_checkpoint, latest_checkpoint
from .config import ModelSource, load_config
from .ema import has_ema
from .ema import load_weights as load_ema_weights
from .freeze import apply_freeze, merge_lora


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


WEIGHTS = ("auto", "ema", "trained")


def load_trained_model(checkpoint: str | Path, dtype: torch.dtype = torch.float32, weights: str = "auto"):
    """-> (model, processor, components) with the checkpoint's trained weights, LoRA merged. `weights`:
    "ema" the run's moving average, "trained" the last step's, "auto" the average where the run kept one
    (as diffusers' scripts save their EMA weights as the model)."""
    if weights not in WEIGHTS:
        raise CheckpointError(f"weights must be one of {', '.join(WEIGHTS)}, got {weights!r}")
    folder = Path(checkpoint).expanduser()
    found = run_checkpoint(folder) if folder.is_dir() else None
    if found is None:
        raise CheckpointError(f"{checkpoint} is neither a training checkpoint nor a run folder with one")
    config = load_config(found / "config.yaml")
    model, processor, components = load_model(config.model, torch.float32)
    names = apply_freeze(model, config.freeze)
    use_ema = weights == "ema" or (weights == "auto" and has_ema(found))
    weights = load_ema_weights(found) if use_ema else ckpt.load_trainable(found)
    if set(weights) != set(names):
        raise CheckpointError(f"{found}: saved weights do not match the model its config builds")
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name, tensor in weights.items():
            params[name].copy_(tensor)
    merge_lora(model)
    model.requires_grad_(False)
    return model.to(dtype).eval(), processor, components


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
        return load_trained_model(checkpoint, dtype)
    from ..checkpoint.pretrained import load_pretrained

    return load_pretrained(str(path), dtype, **source.overrides)
