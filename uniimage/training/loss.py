"""THE training loss: rectified flow, as published (REFERENCE.md section 5).

    t      ~ uniform over the 1000 discrete timesteps of FlowMatchEuler (shift 1; the trainer reads the
             schedule from the checkpoint's noise-scheduler folder, as the published code does)
    sigma  = schedule.sigmas[t]
    x_t    = (1 - sigma) * x0 + sigma * noise
    target = noise - x0
    loss   = mean((model(x_t, t) - target)^2)

Options (SD3): logit-normal or mode timestep sampling, sigma_sqrt / cosmap loss weighting,
both straight from diffusers.training_utils.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from diffusers.training_utils import compute_density_for_timestep_sampling, compute_loss_weighting_for_sd3

from ..pipelines.schedulers import training_noise_schedule
from .config import LossConfig

# diffusers' name for plain uniform sampling / weighting is "none".
_SAMPLING = {"uniform": "none", "logit_normal": "logit_normal", "mode": "mode"}


@dataclass
class NoisedBatch:
    noisy: torch.Tensor  # x_t
    timesteps: torch.Tensor  # [B] float, 1..1000: what the DiT is given
    sigmas: torch.Tensor  # [B]
    target: torch.Tensor  # noise - x0


class FlowMatchingLoss:
    """`schedule`: the checkpoint's training noise schedule (schedulers.load_noise_schedule); default
    the published one (1000 steps, shift 1)."""

    def __init__(self, config: LossConfig = LossConfig(), num_train_timesteps: int = 1000, schedule=None):
        self.config = config
        schedule = schedule or training_noise_schedule(num_train_timesteps)
        num_train_timesteps = schedule.config.num_train_timesteps
        # One sigma per timestep (diffusers may append a terminal 0 to the sampling sigmas; never a training one).
        self.timesteps, self.sigmas = schedule.timesteps.float(), schedule.sigmas[:num_train_timesteps].float()
        self.n = num_train_timesteps

    def sample_indices(self, batch: int, generator: torch.Generator) -> torch.Tensor:
        c = self.config
        u = compute_density_for_timestep_sampling(_SAMPLING[c.timestep_sampling], batch, logit_mean=c.logit_mean,
                                                  logit_std=c.logit_std, mode_scale=c.mode_scale, generator=generator)
        return (u * self.n).long().clamp(0, self.n - 1)

    def noise(self, x0: torch.Tensor, noise: torch.Tensor, indices: torch.Tensor) -> NoisedBatch:
        sigmas = self.sigmas[indices.cpu()].to(x0.device)
        s = sigmas.view(-1, *([1] * (x0.dim() - 1))).to(x0.dtype)
        noise = noise.to(x0.device, x0.dtype)
        return NoisedBatch((1 - s) * x0 + s * noise, self.timesteps[indices.cpu()].to(x0.device), sigmas, noise - x0)

    def __call__(self, prediction: torch.Tensor, batch: NoisedBatch) -> torch.Tensor:
        error = (prediction.float() - batch.target.float()) ** 2
        weights = compute_loss_weighting_for_sd3(self.config.weighting, batch.sigmas.float())  # "none": all ones
        per_sample = error.flatten(1).mean(1) * weights.view(-1).to(error.device)
        return per_sample.mean()
