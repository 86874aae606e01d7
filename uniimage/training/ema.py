"""An exponential moving average of the trainable weights (diffusers' EMAModel), kept beside the run.

Why: a diffusion model's sampled images are usually better from averaged weights than from the last
step's (diffusers' train scripts' `--use_ema`). The average lives on the optimizer's side: updated once
per optimizer step, saved in every checkpoint as `ema.safetensors` (named like `trainable.safetensors`),
and it is what `uniimage export` writes unless asked for the trained weights.
"""

from __future__ import annotations

from pathlib import Path

import torch
from diffusers.training_utils import EMAModel
from safetensors.torch import load_file

from ..errors import CheckpointError
from .config import EMAConfig

FILE = "ema.safetensors"


class TrainableEMA:
    """EMAModel over named parameters, with name-keyed safetensors I/O (never pickled). The parameters are
    the training run's own objects (unsharded: DDP or one process), so they are listed once, here."""

    def __init__(self, named: dict[str, torch.nn.Parameter], config: EMAConfig):
        self.names = sorted(named)
        self.params = [named[n] for n in self.names]
        self.ema = EMAModel(self.params, decay=config.decay, update_after_step=config.start_step,
                            use_ema_warmup=config.warmup, inv_gamma=config.inv_gamma, power=config.power)

    def step(self) -> None:
        self.ema.step(self.params)

    @property
    def updates(self) -> int:
        return self.ema.optimization_step

    def weights(self) -> dict[str, torch.Tensor]:
        return dict(zip(self.names, self.ema.shadow_params))

    def load(self, folder: Path, updates: int) -> None:
        saved = load_weights(folder)
        if sorted(saved) != self.names:
            raise CheckpointError(f"{folder}/{FILE}: its weights do not match this run's trainable parameters")
        with torch.no_grad():
            for shadow, name in zip(self.ema.shadow_params, self.names):
                shadow.copy_(saved[name])
        self.ema.optimization_step = updates


def load_weights(folder: Path) -> dict[str, torch.Tensor]:
    path = Path(folder) / FILE
    if not path.is_file():
        raise CheckpointError(f"checkpoint {folder} has no {FILE} (its run did not keep an EMA: set `ema:` in the config)")
    try:
        return load_file(str(path))
    except Exception as e:  # noqa: BLE001 - safetensors raises several types for a damaged file
        raise CheckpointError(f"{path} cannot be read as safetensors ({e})") from None


def has_ema(folder: Path) -> bool:
    return (Path(folder) / FILE).is_file()
