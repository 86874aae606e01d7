"""Training checkpoints: atomic, newest K kept, everything needed to continue bit-exactly.

    OUTPUT_DIR/checkpoint-N/
        trainable.safetensors   trainable weights only (frozen base weights are referenced by config.yaml)
        optimizer.pt, scheduler.pt  (optimizer/rank-R.pt instead when DeepSpeed / FSDP shard it)
        rng/rank-R.pt           python / numpy / torch (/ cuda) RNG states of every rank
        data/rank-R.pt          each rank's data-stream position
        training_state.json     step, samples seen, world size, config fingerprint
        config.yaml             the resolved training config (its `model` names the frozen base)

Written into `.tmp-checkpoint-N` and renamed only once every rank's files are complete: a crash or
a full disk mid-save leaves the previous checkpoints untouched (the temp folder is removed).
"""

from __future__ import annotations

import json
import logging
import random
import re
import shutil
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from ..errors import CheckpointError

log = logging.getLogger(__name__)
STATE_FILE = "training_state.json"
_NAME = re.compile(r"^checkpoint-(\d+)$")


# Writers, in one place: tests replace them to simulate a full disk.
def _torch_save(obj, path: Path):
    torch.save(obj, path)


def _save_weights(tensors: dict, path: Path):
    save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(path))


def _write_text(path: Path, text: str):
    path.write_text(text)


# ---- finding ----
def list_checkpoints(output_dir: str | Path) -> list[Path]:
    """Complete checkpoints, oldest first (temp folders of interrupted saves are not checkpoints)."""
    root = Path(output_dir)
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in root.iterdir() if (m := _NAME.match(p.name)) and (p / STATE_FILE).is_file()]
    return [p for _, p in sorted(found)]


def latest_checkpoint(output_dir: str | Path) -> Path | None:
    found = list_checkpoints(output_dir)
    return found[-1] if found else None


def is_checkpoint(path: Path) -> bool:
    return (Path(path) / STATE_FILE).is_file()


# ---- RNG ----
def rng_state() -> dict:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict):
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# ---- saving ----
def save_checkpoint(output_dir: str | Path, step: int, *, rank: int, world_size: int, rank_state: dict,
                    main_state: Callable[[], dict] | None, keep: int, barrier: Callable[[], None] = lambda: None,
                    any_failed: Callable[[bool], bool] = lambda failed: failed) -> Path:
    """Every rank calls this. `rank_state`: {"rng": ..., "data": ...[, "optimizer": ...]} of this rank. `main_state()` (rank 0):
    {"trainable": tensors, "optimizer": ..., "scheduler": ..., "training_state": dict, "config_yaml": str}."""
    root = Path(output_dir)
    final, tmp = root / f"checkpoint-{step}", root / f".tmp-checkpoint-{step}"
    if rank == 0:
        shutil.rmtree(tmp, ignore_errors=True)  # leftovers of an earlier interrupted save
        (tmp / "rng").mkdir(parents=True)
        (tmp / "data").mkdir()
    barrier()
    error = None
    try:
        for part, obj in rank_state.items():  # rng, data (and optimizer shards under ZeRO / FSDP)
            (tmp / part).mkdir(exist_ok=True)
            _torch_save(obj, tmp / part / f"rank-{rank}.pt")
        if rank == 0:
            _write_main(tmp, main_state())
    except OSError as e:
        error = e
    failed = any_failed(error is not None)  # collective: every rank learns whether any rank failed
    if failed:
        if rank == 0:
            shutil.rmtree(tmp, ignore_errors=True)
        previous = latest_checkpoint(root)
        keepsafe = f"; {previous.name} is intact" if previous else ""
        raise CheckpointError(f"could not save checkpoint-{step} in {root}: {error or 'another rank failed'}{keepsafe}")
    if rank == 0:
        if final.exists():  # the same step saved before (e.g. a rerun): replace it only now
            shutil.rmtree(final)
        tmp.rename(final)
        prune(root, keep)
    barrier()
    return final


def _write_main(folder: Path, state: dict):
    _save_weights(state["trainable"], folder / "trainable.safetensors")
    if state.get("optimizer") is not None:  # None: saved per rank (sharded optimizer state)
        _torch_save(state["optimizer"], folder / "optimizer.pt")
    _torch_save(state["scheduler"], folder / "scheduler.pt")
    _write_text(folder / "config.yaml", state["config_yaml"])
    # The state file goes last: its presence is what marks a folder as a complete checkpoint.
    _write_text(folder / STATE_FILE, json.dumps(state["training_state"], indent=2))


def prune(root: Path, keep: int):
    for old in list_checkpoints(root)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)


# ---- loading ----
def read_training_state(folder: Path) -> dict:
    try:
        return json.loads((Path(folder) / STATE_FILE).read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{folder} is not a training checkpoint (no {STATE_FILE})") from None


def load_trainable(folder: Path) -> dict:
    return load_file(str(Path(folder) / "trainable.safetensors"))


def load_part(folder: Path, name: str):
    path = Path(folder) / name
    if not path.is_file():
        raise CheckpointError(f"checkpoint {folder} lacks {name}")
    # Our own files (numpy RNG state needs full unpickling); never load checkpoints you do not trust.
    return torch.load(path, map_location="cpu", weights_only=False)
