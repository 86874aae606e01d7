"""Watching a run: tqdm (loss, ETA), tensorboard scalars and images, throughput and peak memory."""

from __future__ import annotations

import resource
import time
from pathlib import Path

import torch
from tqdm.auto import tqdm


def peak_memory_gb(device: torch.device) -> float:
    """Peak accelerator memory allocated; on CPU the process's peak resident set size."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 1024**3
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # Linux reports KiB


class Monitor:
    def __init__(self, output_dir: Path, start_step: int, max_steps: int, enabled: bool, tensorboard: bool, progress: bool):
        self.enabled = enabled
        self.writer = None
        if enabled and tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(Path(output_dir) / "tensorboard"))
        self.bar = tqdm(total=max_steps, initial=start_step, desc="train", dynamic_ncols=True,
                        disable=not (enabled and progress))
        self._t, self._samples = time.perf_counter(), 0

    def step(self, samples: int):
        self._samples += samples
        self.bar.update(1)

    def log(self, step: int, scalars: dict, device: torch.device) -> dict:
        """Adds samples/s (since the last log) and peak memory to `scalars`, writes them, returns them."""
        now = time.perf_counter()
        scalars = dict(scalars, samples_per_s=self._samples / max(now - self._t, 1e-9), peak_memory_gb=peak_memory_gb(device))
        self._t, self._samples = now, 0
        if self.enabled:
            self.bar.set_postfix(loss=f"{scalars['loss']:.4f}", lr=f"{scalars['lr']:.2e}")
            if self.writer is not None:
                for name, value in scalars.items():
                    self.writer.add_scalar(f"train/{name}", value, step)
        return scalars

    def image(self, tag: str, array, step: int):
        if self.writer is not None:
            self.writer.add_image(tag, array, step, dataformats="HWC")

    def close(self):
        self.bar.close()
        if self.writer is not None:
            self.writer.close()
