"""A fresh tiny DC-AE (diffusers `AutoencoderDC`) from a `Sizes`: the published block types and
conventions (conv downsampling, interpolate upsampling, RMS-norm decoder), scaled down."""

from __future__ import annotations

import torch
from diffusers import AutoencoderDC

from .sizes import Sizes


def dc_ae_config(sizes: Sizes) -> dict:
    stages = len(sizes.vae_block_out)
    qkv = [[5] if kind == "EfficientViTBlock" else [] for kind in sizes.vae_block_types]
    return {"in_channels": 3, "latent_channels": sizes.latent_channels, "attention_head_dim": 8,
            "encoder_block_types": list(sizes.vae_block_types), "decoder_block_types": list(sizes.vae_block_types),
            "encoder_block_out_channels": list(sizes.vae_block_out), "decoder_block_out_channels": list(sizes.vae_block_out),
            "encoder_layers_per_block": list(sizes.vae_layers), "decoder_layers_per_block": list(sizes.vae_layers),
            "encoder_qkv_multiscales": qkv, "decoder_qkv_multiscales": qkv,
            "upsample_block_type": "interpolate", "downsample_block_type": "Conv", "decoder_norm_types": "rms_norm",
            "decoder_act_fns": "silu", "scaling_factor": 1.0} if stages else {}


def build_vae(sizes: Sizes, seed: int = 0) -> AutoencoderDC:
    torch.manual_seed(seed)
    return AutoencoderDC(**dc_ae_config(sizes))


def downsample_factor(vae: AutoencoderDC) -> int:
    return 2 ** (len(vae.config.encoder_block_out_channels) - 1)
