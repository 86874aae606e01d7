"""Stage 0 from a finished model: its frozen MLLM and VAE back out as base folders.

Stages 1-3 keep the MLLM and the VAE frozen, so a trained UniImage model (the shipped demo, say) still
holds stage 0's bases bit for bit. Taking them out saves the hour stage 0 takes when only stages 1-3
change. Writes out/qwen (a plain Qwen2.5-VL folder: the query rows dropped, tokenizer, chat template and
image-processor config copied) and out/sana/vae; `stage0 sana` and `stage0 data` then add a fresh DiT
and the scenes.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

TOKENIZER_FILES = ("*.jinja", "tokenizer*.json", "preprocessor_config.json", "stage0_report.json", "*.txt")


def plain_embedding(embedding: nn.Embedding) -> nn.Embedding:
    """The vocabulary alone, as a plain nn.Embedding sharing its weight (so the LM head stays tied)."""
    plain = nn.Embedding(embedding.num_embeddings, embedding.embedding_dim, padding_idx=embedding.padding_idx,
                         device="meta")
    plain.weight = embedding.weight
    return plain


def write_bases(model_ref: str, out_dir) -> dict:
    """out_dir/qwen and out_dir/sana/vae from a saved UniImage model (a folder or a preset name)."""
    from uniimage.checkpoint.pretrained import _copy_files
    from uniimage.presets import load_preset_or_checkpoint

    out_dir = Path(out_dir)
    model, _, components = load_preset_or_checkpoint(str(model_ref), torch.float32)
    mllm = model.mllm
    mllm.set_input_embeddings(plain_embedding(mllm.get_input_embeddings()))
    mllm.save_pretrained(out_dir / "qwen", safe_serialization=True)
    _copy_files(Path(components.mllm_dir), out_dir / "qwen", list(TOKENIZER_FILES))
    model.vae.save_pretrained(out_dir / "sana" / "vae", safe_serialization=True)
    return {"mllm_params": sum(p.numel() for p in mllm.parameters()), "vae_params": sum(p.numel() for p in model.vae.parameters()),
            "from": str(model_ref)}
