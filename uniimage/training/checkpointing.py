"""Training checkpoints: atomic, newest K kept, everything needed to continue bit-exactly.

    OUTPUT_DIR/checkpoint-N/
        trainable.safetensors   trainable weights only (frozen base weights are referenced by config.yaml)
        ema.safetensors         their moving average, when the config has `ema:` (training/ema.py)
        optimizer.json + optimizer.safetensors   AdamW state, 8-bit moments as codes + scales (optimizer/rank-R.pt when DeepSpeed / FSDP shard it)
        scheduler.json          LR schedule position
        rng/rank-R.json (+ .safetensors)   python / numpy / torch (/ cuda) RNG states of every rank
        data/rank-R.json        each rank's data-stream position (rehearsal/rank-R.json: its rehearsal rows')
        training_state.json     step, samples seen, world size, config fingerprint, state format
        config.yaml             the resolved training config (its `model` names the frozen base)

Nothing is unpickled on resume: state is JSON + safetensors (statefile.py); only a sharded optimizer
state stays a torch file, read with `torch.load(weights_only=True)` (tensors, DTensors and plain
containers; no code). Folders of older versions (pickled optimizer.pt, scheduler.pt, rng/, data/)
are refused with the command that converts them (`convert_legacy`).

Written into `.tmp-checkpoint-N` and renamed only once every rank's files are complete: a crash or
a full disk mid-save leaves the previous checkpoints untouched (the temp folder is removed).
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import pickle
import random
import re
import shutil
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ..errors import CheckpointError
from .statefile import load_state, save_state

log = logging.getLogger(__name__)
STATE_FILE = "training_state.json"
STATE_FORMAT = 2  # 2: JSON + safetensors state; absent: pickled .pt state (older versions)
_NAME = re.compile(r"^checkpoint-(\d+)$")


# Writers, in one place: tests replace them to simulate a full disk.
def _torch_save(obj, path: Path):
    torch.save(obj, path)


def _save_state(obj, folder: Path, name: str):
    save_state(obj, folder, name)


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
            if part == "optimizer":  # sharded state (DTensors, DeepSpeed's dict): a torch file, read weights-only
                _torch_save(obj, tmp / part / f"rank-{rank}.pt")
            else:
                _save_state(obj, tmp / part, f"rank-{rank}")
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
    if state.get("ema") is not None:  # the moving average of the same weights (training/ema.py)
        _save_weights(state["ema"], folder / "ema.safetensors")
    if state.get("optimizer") is not None:  # None: saved per rank (sharded optimizer state)
        _save_state(state["optimizer"], folder, "optimizer")
    _save_state(state["scheduler"], folder, "scheduler")
    _write_text(folder / "config.yaml", state["config_yaml"])
    # The state file goes last: its presence is what marks a folder as a complete checkpoint.
    # cpu_threads: CPU reductions split by thread count, so only the same count continues bit-exactly.
    written = dict(state["training_state"], state_format=STATE_FORMAT, cpu_threads=torch.get_num_threads())
    _write_text(folder / STATE_FILE, json.dumps(written, indent=2))


def prune(root: Path, keep: int):
    for old in list_checkpoints(root)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)


# ---- loading ----
def _read_state_file(folder: Path) -> dict:
    try:
        state = json.loads((Path(folder) / STATE_FILE).read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{folder} is not a training checkpoint (no {STATE_FILE})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{Path(folder) / STATE_FILE} is not JSON ({e})") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"{Path(folder) / STATE_FILE} does not hold a JSON object")
    return state


_warned_threads: set[str] = set()


def read_training_state(folder: Path) -> dict:
    """The checkpoint's training_state.json, after checking its state can be read without unpickling."""
    state = _read_state_file(folder)
    if "state_format" not in state:
        raise CheckpointError(
            f"{folder} was written by an older uniimage that pickled its training state (optimizer.pt, scheduler.pt, "
            "rng/, data/); resuming would unpickle it, which can run code. Convert it once with "
            f"`uniimage convert-checkpoint {folder}` (reads those files with torch.load(weights_only=True), "
            "writes JSON + safetensors beside them, deletes nothing), then resume.")
    if state["state_format"] != STATE_FORMAT:
        raise CheckpointError(f"{folder} has state format {state['state_format']!r}; this uniimage reads {STATE_FORMAT}")
    threads = state.get("cpu_threads")
    if threads is not None and threads != torch.get_num_threads() and str(folder) not in _warned_threads:
        _warned_threads.add(str(folder))
        log.warning("%s was written by a process using %d CPU threads, this one uses %d: CPU computations will "
                    "not continue bit-identically to an uninterrupted run (set OMP_NUM_THREADS=%d to match)",
                    folder, threads, torch.get_num_threads(), threads)
    return state


def load_trainable(folder: Path) -> dict:
    path = Path(folder) / "trainable.safetensors"
    if not path.is_file():
        raise CheckpointError(f"checkpoint {folder} lacks trainable.safetensors")
    try:
        return load_file(str(path))
    except (SafetensorError, ValueError) as e:
        raise CheckpointError(f"{path} is not a safetensors file ({e}); refusing to load it") from None


def load_part(folder: Path, name: str):
    """A state part, e.g. "scheduler", "rng/rank-0" (JSON + safetensors); a name ending in .pt (a
    sharded optimizer's rank file) is a torch file, read weights-only."""
    path = Path(folder) / name
    if name.endswith(".pt"):
        return load_torch_part(path)
    return load_state(path.parent, path.name)


def _distributed_safe_globals() -> list:
    """Types a sharded optimizer state holds beyond tensors and containers. FSDP2's DTensor types are
    allow-listed by torch itself once torch.distributed.tensor is imported; DeepSpeed's (unverified
    here: DeepSpeed is not installed in our CI) are its stage enum and loss scalers."""
    if torch.distributed.is_available():
        importlib.import_module("torch.distributed.tensor")  # registers DTensor, DeviceMesh, Shard, ...
    try:
        from deepspeed.runtime.fp16.loss_scaler import DynamicLossScaler, LossScaler
        from deepspeed.runtime.zero.config import ZeroStageEnum
    except ImportError:
        return []
    return [ZeroStageEnum, LossScaler, DynamicLossScaler]


def load_torch_part(path: Path, allowed: list | tuple = ()):
    """torch.load restricted to tensors, plain containers and the `allowed` types: never runs code."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path.parent} lacks {path.name}")
    try:
        with torch.serialization.safe_globals([*_distributed_safe_globals(), *allowed]):
            return torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, AttributeError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"refusing {path}: it holds something other than tensors and plain data ({first}); "
                              "it may have been tampered with, nothing in it was run") from None


# ---- older (pickled) checkpoints ----
def _numpy_rng_globals() -> list:
    """What a pickled np.random.get_state() names: the array type, its dtype and numpy's array
    rebuilder (under numpy 1.x's module path too). Allow-listed for converting old RNG files only."""
    from numpy._core.multiarray import _reconstruct

    found = [np.ndarray, np.dtype, _reconstruct, (_reconstruct, "numpy.core.multiarray._reconstruct")]
    found += [getattr(np.dtypes, n) for n in ("UInt32DType", "Float64DType", "Int64DType") if hasattr(np.dtypes, n)]
    return found


def convert_legacy(folder: Path) -> list[str]:
    """Rewrite an older checkpoint's pickled state (optimizer.pt, scheduler.pt, rng/rank-R.pt,
    data/rank-R.pt, rehearsal/rank-R.pt) as JSON + safetensors, reading each with torch.load(weights_only=True). Every file is
    read before anything is written; the .pt files stay (nothing is lost). Returns the names written
    ([] when the folder is already converted)."""
    folder = Path(folder)
    state = _read_state_file(folder)
    if "state_format" in state:
        return []
    parts = {}
    if (folder / "optimizer.pt").is_file():
        parts["optimizer"] = load_torch_part(folder / "optimizer.pt")
    elif not list(folder.glob("optimizer/rank-*.pt")):
        raise CheckpointError(f"{folder} has no optimizer.pt or optimizer/rank-*.pt: not a complete checkpoint")
    parts["scheduler"] = load_torch_part(folder / "scheduler.pt")
    for kind in ("rng", "data", "rehearsal"):
        files = sorted((folder / kind).glob("rank-*.pt"))
        if kind == "rehearsal" and not files:  # only runs with language-model rehearsal have it
            continue
        if len(files) != int(state.get("world_size", len(files))) or not files:
            raise CheckpointError(f"{folder}/{kind} holds {len(files)} rank files, the run had {state.get('world_size')}")
        for f in files:
            parts[f"{kind}/{f.stem}"] = load_torch_part(f, _numpy_rng_globals() if kind == "rng" else ())
    for name, obj in parts.items():
        save_state(obj, (folder / name).parent, (folder / name).name)
    tmp = folder / (STATE_FILE + ".tmp")
    tmp.write_text(json.dumps(dict(state, state_format=STATE_FORMAT), indent=2))
    os.replace(tmp, folder / STATE_FILE)  # last: only now does resume accept the folder
    return sorted(parts)


def convert_run(path: Path) -> dict[Path, list[str]]:
    """convert_legacy on a checkpoint folder, or on every checkpoint of a run folder."""
    path = Path(path)
    folders = [path] if is_checkpoint(path) else list_checkpoints(path)
    if not folders:
        raise CheckpointError(f"{path} is neither a training checkpoint nor a run folder holding checkpoint-N folders")
    return {f: convert_legacy(f) for f in folders}
