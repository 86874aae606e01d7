"""Samplers and the training noise schedule, straight from diffusers and the checkpoint's configs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from diffusers import DPMSolverMultistepScheduler, FlowMatchEulerDiscreteScheduler

from ..errors import CheckpointError


class LinspaceFlowEulerScheduler(FlowMatchEulerDiscreteScheduler):
    """Flow-matching Euler whose unshifted sigmas are linspace(1, 1/steps, steps), as SANA samples with it
    (diffusers' default spaces timesteps down to 1/1000 instead)."""

    def set_timesteps(self, num_inference_steps=None, device=None, sigmas=None, **kwargs):
        if sigmas is None and num_inference_steps:
            sigmas = np.linspace(1.0, 1.0 / num_inference_steps, num_inference_steps)
        return super().set_timesteps(num_inference_steps, device=device, sigmas=sigmas, **kwargs)


def load_sampler(scheduler_dir: Path, kind: str = "dpm"):
    """'dpm': the checkpoint's DPM-Solver++ flow config (published). 'euler': flow-matching Euler,
    sigmas linspace(1, 1/steps, steps) with the same flow shift."""
    try:
        dpm = DPMSolverMultistepScheduler.from_pretrained(scheduler_dir)
    except (OSError, ValueError) as e:
        raise CheckpointError(f"cannot read the sampler config in {scheduler_dir}: {e}") from e
    if kind == "dpm":
        return dpm
    if kind == "euler":
        return LinspaceFlowEulerScheduler(num_train_timesteps=dpm.config.num_train_timesteps,
                                          shift=dpm.config.get("flow_shift") or 1.0)
    raise CheckpointError(f"unknown sampler {kind!r}: use 'dpm' or 'euler'")


def training_noise_schedule(num_train_timesteps: int = 1000, shift: float = 1.0) -> FlowMatchEulerDiscreteScheduler:
    """The published training schedule: flow-matching Euler over 1000 steps, shift 1."""
    return FlowMatchEulerDiscreteScheduler(num_train_timesteps=num_train_timesteps, shift=shift)


def load_noise_schedule(noise_scheduler_dir: Path) -> FlowMatchEulerDiscreteScheduler:
    """The training schedule as the published code builds it: FlowMatchEulerDiscreteScheduler from the
    config in the checkpoint's `noise_scheduler_id` folder. The published folder holds SANA's
    DPM-Solver sampler config, whose keys FlowMatchEuler does not take (its `flow_shift` is not
    `shift`): that gives 1000 steps, shift 1. A folder holding a FlowMatchEuler config with another
    shift (or step count) is honoured."""
    try:
        return FlowMatchEulerDiscreteScheduler.from_pretrained(noise_scheduler_dir)
    except (OSError, ValueError, TypeError) as e:
        raise CheckpointError(f"cannot read the training noise schedule in {noise_scheduler_dir}: {e}") from e
