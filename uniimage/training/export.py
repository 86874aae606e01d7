"""A training checkpoint -> a full model in the published layout (what `uniimage generate --model` loads).

The checkpoint holds only trainable weights; the frozen base comes from its config's `model` source
(rebuilt the same way, recursively for a run that started from an earlier run). LoRA adapters are
merged into their base weights, so the export is a plain model.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..errors import CheckpointError
from .model_source import load_trained_model


def export_checkpoint(checkpoint: str | Path, out: str | Path, dtype: torch.dtype = torch.float32,
                      weights: str = "auto") -> Path:
    """`weights`: "auto" (the run's EMA where it kept one, else the trained weights), "ema" or "trained"."""
    from ..checkpoint.pretrained import save_pretrained

    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise CheckpointError(f"export folder {out} exists and is not empty")
    model, _, components = load_trained_model(checkpoint, dtype, weights)
    tmp = out.with_name(out.name + ".tmp-export")
    import shutil

    shutil.rmtree(tmp, ignore_errors=True)
    save_pretrained(model, components, tmp)
    if out.exists():
        out.rmdir()
    tmp.rename(out)
    return out
