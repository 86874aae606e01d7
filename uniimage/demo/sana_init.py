"""Stage 0c: the SANA base folder. Stage 1 trains the DiT from scratch, but `from_components` loads
weights, so a randomly initialised `SanaTransformer2DModel` is saved beside the trained VAE and
SANA's sampler config (DPM-Solver++ with flow sigmas, REFERENCE.md section 3)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
from diffusers import SanaTransformer2DModel

from .sizes import Sizes

SCHEDULER = {"_class_name": "DPMSolverMultistepScheduler", "algorithm_type": "dpmsolver++", "solver_order": 2,
             "solver_type": "midpoint", "prediction_type": "flow_prediction", "use_flow_sigmas": True, "flow_shift": 3.0,
             "final_sigmas_type": "zero", "lower_order_final": True, "timestep_spacing": "linspace",
             "num_train_timesteps": 1000, "beta_schedule": "linear", "beta_start": 0.0001, "beta_end": 0.02}


def transformer_config(sizes: Sizes, latent_channels: int, latent_side: int) -> dict:
    d = sizes.dit
    return {"in_channels": latent_channels, "out_channels": latent_channels, "num_layers": d["num_layers"],
            "num_attention_heads": d["num_attention_heads"], "attention_head_dim": d["attention_head_dim"],
            "num_cross_attention_heads": d["num_cross_attention_heads"],
            "cross_attention_head_dim": d["cross_attention_head_dim"],
            "cross_attention_dim": d["num_cross_attention_heads"] * d["cross_attention_head_dim"],
            "caption_channels": d["caption_channels"], "mlp_ratio": 2.5, "dropout": 0.0, "attention_bias": False,
            "sample_size": latent_side, "patch_size": d["patch_size"], "norm_elementwise_affine": False,
            "norm_eps": 1e-6, "interpolation_scale": d.get("interpolation_scale"), "guidance_embeds": False, "qk_norm": None,
            "timestep_scale": 1.0}


def write_sana(out_dir, sizes: Sizes, vae_dir, seed: int = 0) -> dict:
    """out_dir/{transformer,vae,scheduler}; the VAE folder is copied from stage 0b."""
    out_dir = Path(out_dir)
    vae_config = json.loads((Path(vae_dir) / "config.json").read_text())
    f = 2 ** (len(vae_config["encoder_block_out_channels"]) - 1)
    config = transformer_config(sizes, vae_config["latent_channels"], sizes.vae_image // f)
    if config["num_layers"] > sizes.text["num_hidden_layers"]:
        raise ValueError("the DiT has more blocks than the MLLM has layers: the ladder needs one layer per block")
    torch.manual_seed(seed)
    transformer = SanaTransformer2DModel(**config)
    transformer.save_pretrained(out_dir / "transformer", safe_serialization=True)
    if (out_dir / "vae").resolve() != Path(vae_dir).resolve():
        shutil.copytree(vae_dir, out_dir / "vae", dirs_exist_ok=True)
    (out_dir / "scheduler").mkdir(parents=True, exist_ok=True)
    (out_dir / "scheduler" / "scheduler_config.json").write_text(json.dumps(SCHEDULER, indent=2) + "\n")
    return {"params": sum(p.numel() for p in transformer.parameters()), **config}
