"""Stepping the optimizer inside the backward pass (`optim.in_backward`): each trainable parameter is
updated as soon as its gradient is complete, and that gradient is freed there, so the full gradient
buffer (4 bytes per trainable value: 1026 MiB on `small`, 6.0 GiB for the 3B model) never lives.

How: a post-accumulate-grad hook on each trainable parameter (autograd runs it once per backward, after
every use of the parameter has added its part) steps the run's one optimizer for that parameter alone,
then drops the gradient. The update, state and weight decay are the ones the loop's single step would
give it: torch's AdamW and torchao's AdamW8bit keep all of them per parameter.

Why one optimizer and not a map of one optimizer per parameter (torch's tutorial): checkpoints, resume,
per-part LRs and the LR scheduler stay exactly as in the ordinary loop. "Alone": for the call, each
param group's list is narrowed to this parameter (or emptied), and restored after. A plain step() would
also update only this parameter (the others have no gradient), but it scans all N parameters in each of
the N calls; `benchmarks/in_backward_overhead.py` (one thread, 1-value tensors, so only the Python cost)
measured +112 ms a step over one ordinary step for the 3B model's 402 tensors with plain calls, +62 ms
with narrowed ones (what a per-parameter map would cost); a CPU step on `small` takes about 30 s.
"""

from __future__ import annotations

import torch
from accelerate.utils import DistributedType

from ..errors import ConfigError


def check_single_process(world: int, distributed_type: DistributedType, mixed_precision: str) -> None:
    """in_backward steps on this process's own gradient the moment it exists: under DDP that is before the
    all-reduce (ranks would drift apart; torchrun wraps even one process in DDP, whose reducer hooks the
    same gradients), under FSDP / DeepSpeed before the reduce-scatter."""
    if world > 1 or distributed_type != DistributedType.NO:
        raise ConfigError(f"optim.in_backward runs in one plain process only (no DDP, FSDP or DeepSpeed); this run "
                          f"has {world} process(es), distributed type {distributed_type.value}: each would step before "
                          "the gradients are reduced across processes. Launch one process (python / `uniimage train`, "
                          "not torchrun or accelerate launch with several), or set optim.in_backward: false")
    if mixed_precision == "fp16":
        raise ConfigError("optim.in_backward does not work with fp16 mixed precision (its loss scaler checks every "
                          "gradient for inf before any step); use bf16 or no")


class StepInBackward:
    """While entered: `optimizer` steps each of `params` inside the backward pass and frees its gradient.
    Leaving takes the hooks off, so later use of the model (export, sampling, a user's backward) is plain."""

    def __init__(self, optimizer: torch.optim.Optimizer, params: list[torch.nn.Parameter]):
        self.optimizer, self.params, self.handles = optimizer, params, []
        self.group_of = {id(p): i for i, g in enumerate(optimizer.param_groups) for p in g["params"]}

    def _step(self, param: torch.Tensor) -> None:
        groups = self.optimizer.param_groups
        full = [g["params"] for g in groups]
        own = self.group_of[id(param)]
        for i, g in enumerate(groups):
            g["params"] = [param] if i == own else []  # this parameter alone (module docstring)
        try:
            self.optimizer.step()
        finally:
            for g, ps in zip(groups, full):
                g["params"] = ps
            param.grad = None

    def __enter__(self):
        for p in self.params:
            p.grad = None  # a stale gradient would be stepped along with the first parameter
        self.handles = [p.register_post_accumulate_grad_hook(self._step) for p in self.params]
        return self

    def __exit__(self, *exc):
        for handle in self.handles:
            handle.remove()
        self.handles = []
