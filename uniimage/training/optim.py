"""AdamW over the trainable parameters only (torch's, or torchao's 8-bit-state AdamW), and linear warmup
then cosine down to a minimum LR."""

from __future__ import annotations

import math

import torch
from torch.optim.lr_scheduler import LambdaLR

from ..errors import ConfigError
from .config import MODEL_PARTS, OptimConfig


def build_optimizer(params, config: OptimConfig) -> torch.optim.Optimizer:
    """`params`: a list of parameters, or {part: parameters} when parts may learn at their own LR."""
    # Only parameters passed here are touched by the update or weight decay: frozen ones stay bit-identical.
    if isinstance(params, dict):
        params = [{"params": ps, "lr": config.part_lr.get(part, config.lr), "part": part} for part, ps in params.items() if ps]
    adamw = adamw_class(config.name)
    return adamw(params, lr=config.lr, betas=tuple(config.betas), eps=config.eps, weight_decay=config.weight_decay)


def adamw_class(name: str) -> type:
    """`adamw`: torch.optim.AdamW. `adamw8bit`: torchao.optim.AdamW8bit, the same update with both moments
    kept as 8-bit codes and a float32 scale per block of 256 values (tensors under 4096 values, or not a
    multiple of 256, keep float32 moments); its step is torch.compile'd per parameter shape."""
    if name == "adamw":
        return torch.optim.AdamW
    if name == "adamw8bit":
        try:
            from torchao.optim import AdamW8bit
        except ImportError as e:
            raise ConfigError(f"optim.name: adamw8bit needs torchao (pip install 'uniimage[train-lowmem]'): {e}") from None
        return AdamW8bit
    raise ConfigError(f"optim.name must be adamw or adamw8bit, got {name!r}")


def trainable_by_part(model) -> dict[str, list[torch.nn.Parameter]]:
    """The trainable parameters, grouped by model part (mllm, queries, connector, dit), in model order."""
    parts = {part: [] for part in MODEL_PARTS}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        if p is model.queries:
            parts["queries"].append(p)
        elif name.startswith("connector."):
            parts["connector"].append(p)
        elif name.startswith("transformer."):
            parts["dit"].append(p)
        else:
            parts["mllm"].append(p)
    return parts


def lr_factor(step: int, config: OptimConfig, total_steps: int) -> float:
    """Multiplier of the peak LR after `step` optimizer steps."""
    if step < config.warmup_steps:
        return (step + 1) / config.warmup_steps
    floor = config.min_lr / config.lr
    span = max(1, total_steps - config.warmup_steps)
    progress = min(1.0, (step - config.warmup_steps) / span)
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))


# Not transformers' get_cosine_with_min_lr_schedule_with_warmup: its warmup is step / warmup, so the
# first optimizer step runs at LR 0, and past num_training_steps its cosine rises again; the demo's
# recorded runs used this schedule (first step at lr / warmup, clamped at min_lr).
def build_scheduler(optimizer: torch.optim.Optimizer, config: OptimConfig, total_steps: int) -> LambdaLR:
    return LambdaLR(optimizer, lambda step: lr_factor(step, config, total_steps))
