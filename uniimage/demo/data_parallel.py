"""The stage-0 trainers' loop (stage 4, the answer layers, uses it) over several gloo processes under torchrun:
every process draws the same global batch, takes its share of it, and the gradients are averaged once per step,
so N processes train as one process with the same batch. On the 2-core machine, 2 processes of one thread each
are how stage 4 uses both cores (demo README, "Stage 4 on both cores").

Exact equivalence needs one correction: the language-model loss is a mean over a process's labelled tokens, and
the shares hold different numbers of them. `token_scale` rescales each process's loss so that the averaged
gradient is the whole batch's token mean.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist


def init_from_env() -> tuple[int, int]:
    """(rank, world size): under torchrun (WORLD_SIZE > 1) joins the gloo process group; otherwise (0, 1)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 0, 1
    if not dist.is_initialized():
        dist.init_process_group("gloo")
    return dist.get_rank(), world


def finish(world: int) -> None:
    """Leave the process group once training is over (the rest, scoring and saving, is process 0's alone)."""
    if world > 1 and dist.is_initialized():
        dist.destroy_process_group()


def share(items: list, rank: int, world: int) -> list:
    """This process's part of a global batch: every world-th item from `rank` on."""
    return items[rank::world]


def token_scale(labels: torch.Tensor, world: int) -> torch.Tensor:
    """world x this process's labelled tokens / all processes' labelled tokens (logits at t - 1 predict token t,
    so position 0 is never a target). A process's token-mean loss times this, averaged over processes, is the
    token mean over the whole batch."""
    mine = (labels[:, 1:] != -100).sum().to(torch.float64)
    total = mine.clone()
    dist.all_reduce(total)
    return (mine * world / total).float()


def average_gradients(params: list[torch.nn.Parameter], loss: torch.Tensor, world: int) -> torch.Tensor:
    """Average the gradients of `params` and the loss over the processes, in one all-reduce of one flat buffer.
    Returns the averaged loss."""
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    flat = torch.cat([g.reshape(-1) for g in grads] + [loss.detach().reshape(1).to(grads[0].dtype)])
    dist.all_reduce(flat)
    flat /= world
    offset = 0
    for p, g in zip(params, grads):
        p.grad = flat[offset:offset + g.numel()].view_as(p)  # views of the reduced buffer: no copy
        offset += g.numel()
    return flat[-1]
