"""Timing one pipeline call by phase, and how far two sets of images are apart: what the compile
benchmarks (benchmarks/cpu_compile.py, benchmarks/gpu_bench.py) share."""

from __future__ import annotations

import math
import time

import torch

from .timing import phase_clock, sync


def timed_call(pipe, prompts: list[str], steps: int, seed: int = 0, guidance_scale: float = 4.5):
    """-> (images [B, 3, H, W] in [0, 1] on the CPU, seconds, {'mllm', 'dit', 'vae'} seconds)."""
    device = pipe._execution_device
    with phase_clock(pipe, device) as spent:
        start = time.perf_counter()
        images = pipe(prompts, generator=torch.Generator().manual_seed(seed), output_type="pt", progress=False,
                      num_inference_steps=steps, guidance_scale=guidance_scale).images
        sync(device)
        total = time.perf_counter() - start
    phases = {"mllm": spent["mllm"], "dit": total - spent["mllm"] - spent["vae"], "vae": spent["vae"]}
    return images.float().cpu(), total, phases


def image_agreement(images: torch.Tensor, reference: torch.Tensor) -> dict:
    """Pixel differences in [0, 1] units (x 255 for grey levels) and PSNR in dB (peak 1; None: identical)."""
    diff = (images.float() - reference.float()).abs()
    mse = float((diff ** 2).mean())
    return {"max_abs_diff": float(diff.max()), "max_abs_diff_255": float(diff.max()) * 255,
            "mean_abs_diff": float(diff.mean()), "psnr_db": None if mse == 0 else -10 * math.log10(mse)}
