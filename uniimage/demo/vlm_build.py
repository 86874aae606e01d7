"""A fresh tiny Qwen2.5-VL from a `Sizes`, and writing it as a transformers folder (weights,
tokenizer, chat template, image-processor config) that `from_pretrained` and `from_components` load.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import torch
from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration, Qwen2VLImageProcessor

from .sizes import Sizes
from .tokenizer import SPECIAL_TOKENS


def image_processor(side: int) -> Qwen2VLImageProcessor:
    # min = max pixels: every image is resized to side x side, a fixed (side/28)^2 merged tokens.
    pixels = side * side
    return Qwen2VLImageProcessor(min_pixels=pixels, max_pixels=pixels, patch_size=14, merge_size=2, temporal_patch_size=2,
                                 size={"shortest_edge": pixels, "longest_edge": pixels})


def qwen_config(tokenizer, sizes: Sizes) -> Qwen2_5_VLConfig:
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    return Qwen2_5_VLConfig(
        text_config={"vocab_size": len(tokenizer), "rms_norm_eps": 1e-6, "max_position_embeddings": 2048,
                     "hidden_act": "silu", "tie_word_embeddings": True, "bos_token_id": ids["<|endoftext|>"],
                     "eos_token_id": ids["<|im_end|>"], "pad_token_id": ids["<|endoftext|>"],
                     # a copy: the config writes rope_theta into the nested rope dict, which would leak into SIZES
                     **copy.deepcopy(sizes.text)},
        vision_config={"in_channels": 3, "patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2,
                       "window_size": 112, "hidden_act": "silu", "tokens_per_second": 2, **sizes.vision},
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=True,
    )


def build_vlm(tokenizer, sizes: Sizes, seed: int = 0) -> Qwen2_5_VLForConditionalGeneration:
    torch.manual_seed(seed)
    model = Qwen2_5_VLForConditionalGeneration(qwen_config(tokenizer, sizes))
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    return model


def save_vlm(model, tokenizer, processor, folder: Path) -> None:
    folder = Path(folder)
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    processor.save_pretrained(folder)
    # The slow processor class by name: the UniImage processor reads merge_size / budgets from it.
    config_path = folder / "preprocessor_config.json"
    config = json.loads(config_path.read_text())
    config["image_processor_type"] = "Qwen2VLImageProcessor"
    config_path.write_text(json.dumps(config, indent=2) + "\n")


def param_count(module) -> int:
    return sum(p.numel() for p in module.parameters())
