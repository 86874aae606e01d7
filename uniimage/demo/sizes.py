"""Model sizes for stage 0: `demo` (what the shipped model is built from) and `test` (seconds-fast).

Budget (issue 4): MLLM + DiT + VAE + connector <= ~25 MB of safetensors, trainable on one CPU core.
The DiT's block count must not exceed the MLLM's layer count (the ladder reads one layer per block).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Sizes:
    text: dict  # Qwen2.5-VL text_config fields
    vision: dict  # Qwen2.5-VL vision_config fields
    image_side: int  # the VLM sees every image resized to image_side x image_side (multiple of 28)
    vae_block_out: tuple  # DC-AE stages; downsampling = 2 ** (stages - 1)
    vae_layers: tuple
    vae_block_types: tuple
    latent_channels: int
    vae_image: int  # pixel side the VAE (and so the DiT) works at
    dit: dict = field(default_factory=dict)  # SanaTransformer2DModel fields


DEMO = Sizes(
    text=dict(hidden_size=128, intermediate_size=384, num_hidden_layers=8, num_attention_heads=4,
              num_key_value_heads=2, rope_theta=1e4, rope_scaling={"type": "mrope", "mrope_section": [4, 6, 6]}),
    vision=dict(depth=3, hidden_size=96, intermediate_size=256, num_heads=4, out_hidden_size=128,
                fullatt_block_indexes=[2]),
    image_side=112,  # 8x8 patches of 14 -> 4x4 = 16 merged image tokens
    vae_block_out=(16, 32, 64), vae_layers=(1, 1, 1),
    vae_block_types=("ResBlock", "ResBlock", "EfficientViTBlock"),
    latent_channels=8, vae_image=64,  # f4: 64 px -> 8 x 16 x 16 latent
    # 6 blocks of width 160; patch 2 keeps the DiT at 8x8 = 64 tokens on the 16x16 latent. Sincos positions
    # (SANA has none): with training scenes in reading order they let a token know it is left or right
    # (demo README, "Reading order"); without the layout convention they changed nothing (same README).
    dit=dict(num_layers=6, num_attention_heads=5, attention_head_dim=32, num_cross_attention_heads=5,
             cross_attention_head_dim=32, caption_channels=160, patch_size=2, interpolation_scale=1),
)

TEST = Sizes(
    text=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
              num_key_value_heads=1, rope_theta=1e4, rope_scaling={"type": "mrope", "mrope_section": [2, 3, 3]}),
    vision=dict(depth=1, hidden_size=16, intermediate_size=32, num_heads=2, out_hidden_size=32,
                fullatt_block_indexes=[0]),
    image_side=56,
    vae_block_out=(8, 16), vae_layers=(1, 1), vae_block_types=("ResBlock", "ResBlock"),
    latent_channels=4, vae_image=32,
    dit=dict(num_layers=2, num_attention_heads=2, attention_head_dim=8, num_cross_attention_heads=2,
             cross_attention_head_dim=8, caption_channels=16, patch_size=1),
)

SIZES = {"demo": DEMO, "test": TEST}
