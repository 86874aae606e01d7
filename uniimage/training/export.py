"""A training checkpoint -> a full model in the published layout (what `uniimage generate --model` loads).

The checkpoint holds only trainable weights; the frozen base comes from its config's `model` source
(rebuilt the same way, recursively for a run that started from an earlier run). LoRA adapters are
merged into their base weights, so the export is a plain model.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..errors import CheckpointError
from . import checkpointing as ckpt
from .config import load_config
from .freeze import apply_freeze, merge_lora


def load_trained_model(checkpoint: str | Path, dtype: torch.dtype = torch.float32):
    """-> (model, processor, components) with the checkpoint's trained weights, LoRA merged."""
    from .model_source import load_model, run_checkpoint

    folder = Path(checkpoint).expanduser()
    found = run_checkpoint(folder) if folder.is_dir() else None
    if found is None:
        raise CheckpointError(f"{checkpoint} is neither a training checkpoint nor a run folder with one")
    config = load_config(found / "config.yaml")
    model, processor, components = load_model(config.model, torch.float32)
    names = apply_freeze(model, config.freeze)
    weights = ckpt.load_trainable(found)
    if set(weights) != set(names):
        raise CheckpointError(f"{found}: saved weights do not match the model its config builds")
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name, tensor in weights.items():
            params[name].copy_(tensor)
    merge_lora(model)
    model.requires_grad_(False)
    return model.to(dtype).eval(), processor, components


def export_checkpoint(checkpoint: str | Path, out: str | Path, dtype: torch.dtype = torch.float32) -> Path:
    from ..checkpoint.pretrained import save_pretrained

    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise CheckpointError(f"export folder {out} exists and is not empty")
    model, _, components = load_trained_model(checkpoint, dtype)
    tmp = out.with_name(out.name + ".tmp-export")
    import shutil

    shutil.rmtree(tmp, ignore_errors=True)
    save_pretrained(model, components, tmp)
    if out.exists():
        out.rmdir()
    tmp.rename(out)
    return out
