"""What the stage-0 trainers share: the learning-rate schedule (linear warmup, then cosine to 10%) and
the optimizer step with its progress log."""

from __future__ import annotations

import logging
import math
import time

import torch

from .data_parallel import average_gradients

logger = logging.getLogger(__name__)


def lr_at(step: int, total: int, peak: float, warmup: int) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def set_lr(optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


def optimizer_step(optimizer, loss: torch.Tensor, params, losses: list[float], clip: float = 1.0, world: int = 1) -> None:
    """Backward, (over `world` > 1 processes: average the gradients), clip, step; the loss goes onto `losses`."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    value = loss.detach()
    if world > 1:
        value = average_gradients(list(params), value, world)
    torch.nn.utils.clip_grad_norm_(params, clip)
    optimizer.step()
    losses.append(value.item())


def log_progress(name: str, step: int, steps: int, losses: list[float], log_every: int, start: float) -> None:
    """Every `log_every` steps: the mean loss since the last log and the seconds since `start`."""
    if log_every and (step + 1) % log_every == 0:
        recent = losses[-log_every:]
        logger.info("%s step %d/%d loss %.5f (%.1f s)", name, step + 1, steps, sum(recent) / len(recent), time.time() - start)
