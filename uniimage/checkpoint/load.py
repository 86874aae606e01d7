"""Loading published-format weights straight into an empty (meta) model: no random init, no copies.

Every tensor is checked: keys the model lacks, keys the checkpoint lacks and shape mismatches are
all reported together in one error. A missing fine-tuned weight is never silently left random.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open

from ..errors import CheckpointError
from . import keymap

INDEX_FILE = "model.safetensors.index.json"
SINGLE_FILE = "model.safetensors"


def weight_files(folder: Path) -> list[Path]:
    """The checkpoint's safetensors files (single or sharded). Pickle files are refused, never opened."""
    index = folder / INDEX_FILE
    if index.is_file():
        try:
            shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        except (KeyError, json.JSONDecodeError) as e:
            raise CheckpointError(f"{index} is not a valid safetensors index: {e}") from e
        missing = [s for s in shards if not (folder / s).is_file()]
        if missing:
            raise CheckpointError(f"{folder} index names shard(s) that do not exist: {', '.join(missing)}")
        return [folder / s for s in shards]
    if (folder / SINGLE_FILE).is_file():
        return [folder / SINGLE_FILE]
    if any(folder.glob("*.bin")) or any(folder.glob("*.pt")):
        raise CheckpointError(f"{folder} holds only pickle weights (.bin/.pt); uniimage loads safetensors only "
                              "and never unpickles. Convert them to safetensors first.")
    raise CheckpointError(f"no {SINGLE_FILE} or {INDEX_FILE} in {folder}")


def read_published(files: list[Path], model, dtype: torch.dtype) -> dict[str, torch.Tensor]:
    """Published tensors renamed to our modules, the embedding split into vocabulary / queries / unused."""
    vocab, n = model.vocab_size, model.config.num_metaqueries
    state, unexpected = {}, []
    for file in files:
        try:
            with safe_open(str(file), framework="pt") as f:
                for key in f.keys():
                    ours = keymap.to_ours(key)
                    if ours is None:
                        unexpected.append(key)
                        continue
                    tensor = f.get_tensor(key)
                    state[ours] = tensor.to(dtype) if tensor.is_floating_point() else tensor
        except (OSError, RuntimeError, SafetensorError) as e:  # truncated or corrupt files
            raise CheckpointError(f"cannot read weights file {file}: {e}") from e
    embedding = state.pop(keymap.EMBEDDING, None)
    if embedding is not None:
        if embedding.shape[0] < vocab + n:
            raise CheckpointError(f"embedding has {embedding.shape[0]} rows; expected vocabulary {vocab} + {n} queries (+ unused)")
        state[keymap.EMBEDDING] = embedding[:vocab]
        state[keymap.QUERIES] = embedding[vocab : vocab + n].clone()
        model.query_embedding.unused_rows = embedding[vocab + n :].clone()
    if unexpected:
        raise CheckpointError(f"checkpoint has {len(unexpected)} key(s) this model does not use: {_listing(unexpected)}")
    return state


def _listing(keys, limit=12) -> str:
    keys = sorted(keys)
    more = f" ... and {len(keys) - limit} more" if len(keys) > limit else ""
    return ", ".join(keys[:limit]) + more


def expected_shapes(model) -> dict[str, torch.Size]:
    shapes = {k: v.shape for k, v in model.state_dict().items()}
    if model.mllm.config.tie_word_embeddings:
        shapes.pop(keymap.LM_HEAD, None)  # tied to the vocabulary rows: no weight of its own
    return shapes


def check_state(state: dict, expected: dict, optional: set[str] = frozenset()):
    missing = [k for k in expected if k not in state and k not in optional]
    unexpected = [k for k in state if k not in expected]
    wrong = [f"{k} {tuple(state[k].shape)} (model wants {tuple(expected[k])})"
             for k in state if k in expected and state[k].shape != expected[k]]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing key(s): {_listing(missing)}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected key(s): {_listing(unexpected)}")
    if wrong:
        problems.append(f"{len(wrong)} key(s) of the wrong shape: {_listing(wrong)}")
    if problems:
        raise CheckpointError("checkpoint does not fit the model: " + "; ".join(problems))


def load_published_weights(model, folder: Path, dtype: torch.dtype):
    """Fill an empty model from a published-format checkpoint folder."""
    state = read_published(weight_files(folder), model, dtype)
    # An untied LM head is absent from published checkpoints (the original drops it); understanding then
    # needs it from the base MLLM, so it is optional here and `can_understand` reports it.
    check_state(state, expected_shapes(model), optional={keymap.LM_HEAD})
    model.load_state_dict(state, strict=False, assign=True)
    finish_loading(model)


def finish_loading(model):
    """Tie the LM head, give the unused rows a real tensor, and refuse anything still on the meta device."""
    emb = model.query_embedding
    if emb.unused_rows.device.type == "meta":
        emb.unused_rows = torch.zeros(emb.unused_rows.shape, dtype=emb.weight.dtype)
    model.tie_head()
    left = [n for n, p in model.named_parameters() if p.device.type == "meta" and n != keymap.LM_HEAD]
    if left:
        raise CheckpointError(f"{len(left)} parameter(s) were not loaded: {_listing(left)}")
