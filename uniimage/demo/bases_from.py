"""Stage 0 from a finished model: its frozen MLLM and VAE back out as base folders.

Stages 1-3 keep the MLLM and the VAE frozen, so a trained UniImage model (the shipped demo, say) still
holds stage 0's bases bit for bit. Taking them out saves the hour stage 0 takes when only stages 1-3
change. Writes out/qwen (a plain Qwen2.5-VL folder: the query rows dropped, tokenizer, chat template and
image-processor config copied) and out/sana/vae; `stage0 sana` and `stage0 data` then add a fresh DiT
and the scenes.

`write_slot_model` goes one stage further: a model whose MLLM side (layers, query rows, connector) stayed as
stage 0b left it (demo v9 to v12, whose stage 1 and joint stage train the DiT alone) still holds the slot model
except for its DiT, which was stage 0's fresh seeded one. Putting that DiT back gives stage 0b's model
folder, which stage 1 and the ladder-vs-final ablation start from, without stage 0 or 0b (1 h 15 min).
Rebuilt from v9 this way, the ablation's ladder run (seed 0, 3000 steps) gave the same figures to the last
digit as from the slot model the chain made (demo README).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ..errors import CheckpointError

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


def write_slot_model(model_ref: str, sana_dir, out_dir) -> dict:
    """out_dir: the model `model_ref` names with its DiT replaced by the fresh one in sana_dir/transformer
    (`stage0 sana`, seeded). Right only for a model whose MLLM side stayed frozen after stage 0b."""
    from diffusers import SanaTransformer2DModel

    from uniimage.checkpoint.pretrained import save_pretrained
    from uniimage.presets import load_preset_or_checkpoint

    fresh_dir, out_dir = Path(sana_dir) / "transformer", Path(out_dir)
    if not (fresh_dir / "config.json").is_file():
        raise CheckpointError(f"slots: {fresh_dir} is not a DiT folder (run `stage0 sana` first)")
    if out_dir.exists() and any(out_dir.iterdir()):
        raise CheckpointError(f"slots: {out_dir} exists and is not empty; nothing is overwritten")
    model, _, components = load_preset_or_checkpoint(str(model_ref), torch.float32)
    fresh = SanaTransformer2DModel.from_pretrained(fresh_dir)
    differ = {k: (v, fresh.config.get(k)) for k, v in model.transformer.config.items()
              if not k.startswith("_") and fresh.config.get(k) != v}
    if differ:
        raise CheckpointError(f"slots: the DiT in {fresh_dir} is not shaped like {model_ref}'s: {differ} "
                              "(model value, fresh value)")
    model.transformer.load_state_dict(fresh.state_dict(), strict=True)
    save_pretrained(model, components, out_dir)
    return {"from": str(model_ref), "dit_from": str(fresh_dir),
            "dit_params": sum(p.numel() for p in model.transformer.parameters())}
