"""The stage-0 hand-over check: both base folders load, `from_components` builds a UniImage model
from them, and the parameter / safetensors budget is reported."""

from __future__ import annotations

from pathlib import Path

import torch


def safetensors_mb(folder: Path) -> float:
    return round(sum(f.stat().st_size for f in Path(folder).rglob("*.safetensors")) / 2**20, 2)


def check_bases(qwen_dir, sana_dir, **config_fields) -> dict:
    from uniimage.checkpoint.pretrained import from_components

    model, processor, _ = from_components(str(qwen_dir), str(sana_dir), torch_dtype=torch.float32, **config_fields)
    count = lambda m: sum(p.numel() for p in m.parameters())
    return {"mllm_params": count(model.mllm),
            "transformer_params": count(model.transformer), "vae_params": count(model.vae),
            "connector_params": count(model.connector), "total_params": count(model),
            "qwen_mb": safetensors_mb(qwen_dir), "sana_mb": safetensors_mb(sana_dir)}
