"""Saving in the published layout (sharded safetensors + index), so tools that read the original read ours."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import torch
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


def _shards(state: dict, max_bytes: int) -> list[dict]:
    shards, current, size = [], {}, 0
    for key in sorted(state):
        nbytes = state[key].numel() * state[key].element_size()
        if current and size + nbytes > max_bytes:
            shards.append(current)
            current, size = {}, 0
        current[key] = state[key]
        size += nbytes
    shards.append(current)
    return shards


def save_published_weights(model, folder: Path, max_shard_size: int = 5 * 1024**3):
    """Write weights atomically: into a temp folder beside `folder`, then move the files in."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous().cpu() for k, v in published_state(model).items()}
    shards = _shards(state, max_shard_size)
    tmp = Path(tempfile.mkdtemp(prefix=".saving-", dir=folder))
    try:
        if len(shards) == 1:
            save_file(shards[0], str(tmp / SINGLE_FILE), metadata={"format": "pt"})
            names = [SINGLE_FILE]
        else:
            names = [f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors" for i in range(len(shards))]
            weight_map = {}
            for name, shard in zip(names, shards):
                save_file(shard, str(tmp / name), metadata={"format": "pt"})
                weight_map.update({k: name for k in shard})
            total = sum(t.numel() * t.element_size() for t in state.values())
            index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
            (tmp / INDEX_FILE).write_text(json.dumps(index, indent=2))
            names.append(INDEX_FILE)
        for stale in [folder / SINGLE_FILE, folder / INDEX_FILE, *folder.glob("model-*-of-*.safetensors")]:
            if stale.name not in names and stale.exists():
                stale.unlink()
        for name in names:
            os.replace(tmp / name, folder / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
