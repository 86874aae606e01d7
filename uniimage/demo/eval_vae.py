"""How well the stage-0 DC-AE keeps what the ShapesEval scorer reads: PSNR of reconstructions, and
the scorer's verdicts on reconstructions of held-out t2i scenes (GenEval-style `judge` against the
prompt metadata, and the strict `judge_edit` exact-scene match), next to the same on the originals."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from uniimage.shapes.evaluate import PROMPT_SEED
from uniimage.shapes.heldout import heldout_combinations
from uniimage.shapes.prompts import t2i_items
from uniimage.shapes.render import render_scene
from uniimage.shapes.score import judge, judge_edit

from .vae_data import to_unit


@torch.no_grad()
def reconstruct(vae, x: torch.Tensor) -> torch.Tensor:
    return vae.decode(vae.encode(x).latent).sample.clamp(-1, 1)


def to_pil(x: torch.Tensor) -> Image.Image:
    array = ((x.permute(1, 2, 0) + 1) * 127.5).round().clamp(0, 255).byte().numpy()
    return Image.fromarray(array)


def psnr(x: torch.Tensor, y: torch.Tensor) -> float:
    mse = ((x - y) / 2).pow(2).mean().item()  # on [0, 1]
    return float(10 * np.log10(1.0 / max(mse, 1e-12)))


def vae_report(vae, side: int, n: int = 200, split: str = "heldout", batch: int = 50) -> dict:
    vae.eval()
    items = t2i_items(n, split, PROMPT_SEED, heldout_combinations())
    scores = {"judge_original": 0, "judge_recon": 0, "scene_original": 0, "scene_recon": 0}
    total_psnr = 0.0
    for start in range(0, n, batch):
        chunk = items[start:start + batch]
        originals = [render_scene(i.scene, side) for i in chunk]
        x = to_unit(torch.from_numpy(np.stack([np.asarray(im) for im in originals])).permute(0, 3, 1, 2))
        y = reconstruct(vae, x)
        for item, original, xi, yi in zip(chunk, originals, x, y):
            recon = to_pil(yi)
            total_psnr += psnr(xi, yi)
            scores["judge_original"] += judge(original, item.metadata)[0]
            scores["judge_recon"] += judge(recon, item.metadata)[0]
            scores["scene_original"] += judge_edit(original, item.scene)[0]
            scores["scene_recon"] += judge_edit(recon, item.scene)[0]
    return {"psnr": round(total_psnr / n, 2), **{k: v / n for k, v in scores.items()}, "n": n}
