"""Stage 0b: train the tiny DC-AE as a plain autoencoder (MSE + L1 on pixels; the L1 term sharpens
flat-colour edges) on the stage-0 scenes, set its latent scaling factor to 1/std, save it as a
diffusers folder and measure PSNR and scorer agreement on reconstructions."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import torch

from .eval_vae import vae_report
from .schedule import log_progress, lr_at, optimizer_step, set_lr
from .sizes import Sizes
from .vae_build import build_vae
from .vae_data import batch, load_images, to_unit
from .vlm_build import param_count

logger = logging.getLogger(__name__)


def train_steps(vae, images: torch.Tensor, steps: int, batch_size: int, lr: float, seed: int, log_every: int = 100) -> list[float]:
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    optimizer = torch.optim.AdamW(vae.parameters(), lr=lr, betas=(0.9, 0.99), weight_decay=0.0)
    vae.train()
    losses, start = [], time.time()
    for step in range(steps):
        x = batch(images, batch_size, generator)
        set_lr(optimizer, lr_at(step, steps, lr, min(100, max(1, steps // 10))))
        y = vae.decode(vae.encode(x).latent).sample
        loss = torch.nn.functional.mse_loss(y, x) + 0.1 * (y - x).abs().mean()
        optimizer_step(optimizer, loss, vae.parameters(), losses)
        log_progress("vae", step, steps, losses, log_every, start)
    return losses


@torch.no_grad()
def set_scaling_factor(vae, images: torch.Tensor, n: int = 256) -> float:
    """Unit-variance latents for the DiT (SANA's convention: latent * scaling_factor; no shift)."""
    vae.eval()
    std = vae.encode(to_unit(images[:n])).latent.std().item()
    factor = round(1.0 / std, 5)
    vae.register_to_config(scaling_factor=factor)
    return factor


def train_vae(data_dir, out_dir, sizes: Sizes, steps: int, batch_size: int = 32, lr: float = 2e-3, seed: int = 0,
              eval_n: int = 200) -> dict:
    start = time.time()
    vae = build_vae(sizes, seed)
    images = load_images(data_dir, sizes.vae_image)
    logger.info("vae: %d params, %d images", param_count(vae), len(images))
    losses = train_steps(vae, images, steps, batch_size, lr, seed)
    factor = set_scaling_factor(vae, images)
    train_seconds = time.time() - start
    vae.save_pretrained(Path(out_dir), safe_serialization=True)
    report = {"params": param_count(vae), "steps": steps, "batch": batch_size, "final_loss": sum(losses[-20:]) / len(losses[-20:]),
              "scaling_factor": factor, "train_seconds": round(train_seconds, 1)}
    if eval_n:
        report["heldout"] = vae_report(vae, sizes.vae_image, eval_n)
    (Path(out_dir) / "stage0_report.json").write_text(json.dumps(report, indent=2) + "\n")
    logger.info("vae report: %s", report)
    return report
