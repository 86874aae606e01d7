"""Training data for the loop: self-generated synthetic sets, the configured stream, endless batches."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Callable

from ..data import DataError, build_dataset, collate
from .config import DataConfig, SyntheticData

log = logging.getLogger(__name__)


def synthetic_spec(cfg: SyntheticData, output_dir: Path, is_main: bool, barrier: Callable[[], None]) -> dict:
    """ShapesEval scenes rendered once into OUTPUT_DIR/<folder> (written aside, then renamed: a crash
    never leaves half a data set that later runs would trust)."""
    folder = Path(output_dir) / cfg.folder
    manifest = folder / "train.jsonl"
    if is_main and not manifest.is_file():
        from ..shapes.dataset import write_dataset

        tmp = folder.with_name(folder.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        write_dataset(tmp, cfg.n_t2i, cfg.n_edit, 0, split="train", image_size=cfg.image_size, seed=cfg.seed, formats=("jsonl",))
        shutil.rmtree(folder, ignore_errors=True)
        tmp.rename(folder)
    barrier()
    return {"path": str(manifest), "type": "jsonl"}


def dataset_specs(cfg: DataConfig, output_dir: Path, is_main: bool, barrier) -> list[dict]:
    specs = [dict(s) for s in cfg.datasets or []]
    if cfg.synthetic is not None:
        specs.append(synthetic_spec(cfg.synthetic, output_dir, is_main, barrier))
    for spec in specs:
        spec.setdefault("cfg_dropout", cfg.cfg_dropout)  # a spec's own rule wins
    return specs


def build_stream(cfg: DataConfig, output_dir: Path, image_size: int, seed: int, rank: int, world_size: int,
                 is_main: bool = True, barrier=lambda: None):
    specs = dataset_specs(cfg, output_dir, is_main, barrier)
    return build_dataset(specs, image_size, seed=seed, rank=rank, world_size=world_size, until=cfg.mixture_until)


class Batches:
    """Endless collated batches from an epoch-wise stream; `state_dict` is the exact position."""

    def __init__(self, stream, batch_size: int):
        self.stream, self.batch_size = stream, batch_size
        self._iter = None

    def _next_sample(self) -> dict:
        for _ in range(2):  # the rest of this epoch, then one fresh epoch
            if self._iter is None:
                self._iter = iter(self.stream)
            try:
                return next(self._iter)
            except StopIteration:
                self._iter = None
        raise DataError("the training data gave no samples for a whole epoch (fewer rows than processes?)")

    def __next__(self) -> dict:
        return collate([self._next_sample() for _ in range(self.batch_size)])

    def __iter__(self):
        return self

    def state_dict(self) -> dict:
        return self.stream.state_dict()

    def load_state_dict(self, state: dict):
        self.stream.load_state_dict(state)
        self._iter = None  # the next sample comes from the restored position
