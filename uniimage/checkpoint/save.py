"""Saving in the published layout (sharded safetensors + index), so tools that read the original read ours."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import torch
from huggingface_hub import split_torch_state_dict_into_shards
from safetensors.torch import save_file

from . import keymap
from .load import INDEX_FILE, SINGLE_FILE


def published_state(model) -> dict[str, torch.Tensor]:
    """Our state dict under published names, the embedding rows re-joined (vocabulary, queries, unused)."""
    emb = model.query_embedding
    out = {}
    for key, tensor in model.state_dict().items():
        if key in (keymap.EMBEDDING, keymap.QUERIES):
            continue
        if key == keymap.LM_HEAD and model.mllm.config.tie_word_embeddings:
            continue
        out[keymap.to_published(key)] = tensor
    rows = [emb.weight.detach(), emb.queries.detach().to(emb.weight.dtype), emb.unused_rows.to(emb.weight.device, emb.weight.dtype)]
    out[keymap.PUBLISHED_EMBEDDING] = torch.cat(rows)
    return out


def save_published_weights(model, folder: Path, max_shard_size: int = 5 * 1024**3):
    """Write weights atomically: into a temp folder beside `folder`, then move the files in."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous().cpu() for k, v in published_state(model).items()}
    # model.safetensors, or model-0000i-of-0000n.safetensors + index: transformers' names.
    split = split_torch_state_dict_into_shards(state, filename_pattern="model{suffix}.safetensors", max_shard_size=max_shard_size)
    tmp = Path(tempfile.mkdtemp(prefix=".saving-", dir=folder))
    try:
        names = list(split.filename_to_tensors)
        for name, keys in split.filename_to_tensors.items():
            save_file({k: state[k] for k in keys}, str(tmp / name), metadata={"format": "pt"})
        if split.is_sharded:
            index = {"metadata": split.metadata, "weight_map": dict(sorted(split.tensor_to_filename.items()))}
            (tmp / INDEX_FILE).write_text(json.dumps(index, indent=2))
            names.append(INDEX_FILE)
        for stale in [folder / SINGLE_FILE, folder / INDEX_FILE, *folder.glob("model-*-of-*.safetensors")]:
            if stale.name not in names and stale.exists():
                stale.unlink()
        for name in names:
            os.replace(tmp / name, folder / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
