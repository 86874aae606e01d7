"""Shared reader machinery: epoch order, split over ranks x dataloader workers, decoding, stats, resume.

Every random choice (shard order, shuffle buffer, index permutation, dropout draw) comes from an RNG
seeded by (seed, epoch, slot[, position]), so (seed, epoch, position) *is* the RNG state: a resumed run
replays the undecoded record stream, drops the first `position` records without decoding them, and
continues with exactly the samples a straight run would have produced.
"""

from __future__ import annotations

import logging
import random
from typing import Iterator

import torch
from torch.utils.data import IterableDataset, get_worker_info

from .decode import decode_record
from .dropout import DropoutConfig, apply_cfg_dropout
from ..errors import DataError
from .fields import Record
from .stats import DataStats
from .transforms import TargetTransform

log = logging.getLogger(__name__)


def current_slot(rank: int, world_size: int) -> tuple[int, int]:
    """(this process's slot, number of slots) over all ranks x dataloader workers; slots are disjoint."""
    info = get_worker_info()
    worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
    return rank * workers + worker, world_size * workers


def rng_for(*parts) -> random.Random:
    """A Random seeded from a tuple: string seeds are hashed deterministically (sha512), across processes."""
    return random.Random("/".join(str(p) for p in parts))


class SampleStream(IterableDataset):
    """Base reader: subclasses implement `records(epoch, slot, num_slots)`, an undecoded, ordered stream."""

    def __init__(
        self,
        path,
        image_size: int,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        shuffle: bool = True,
        min_size: int | None = None,
        cfg_dropout: DropoutConfig | None = None,
    ):
        if not 0 <= rank < world_size:
            raise DataError(f"rank {rank} is outside world size {world_size}")
        self.path, self.seed, self.rank, self.world_size = str(path), int(seed), int(rank), int(world_size)
        self.shuffle, self.cfg_dropout = shuffle, cfg_dropout
        self.transform = TargetTransform(image_size, min_size)
        self.stats = DataStats()
        self.epoch, self.position = 0, 0  # position: records of this epoch consumed (yielded or skipped)

    def records(self, epoch: int, slot: int, num_slots: int, start: int = 0) -> Iterator[Record]:
        """This slot's undecoded records of `epoch`, from the `start`-th on (same order on every call)."""
        raise NotImplementedError

    def iter_epoch(self, epoch: int, slot: int = 0, num_slots: int = 1, start: int = 0) -> Iterator[tuple[int, dict]]:
        """(position after this record, sample) for one epoch of one slot, from record `start` on."""
        for pos, rec in enumerate(self.records(epoch, slot, num_slots, start), start + 1):
            sample = decode_record(rec, self.transform, self.stats, self.path)
            if sample is None:
                continue
            if self.cfg_dropout is not None:
                sample = apply_cfg_dropout(sample, rng_for(self.seed, "dropout", epoch, slot, pos), self.cfg_dropout)
            yield pos, sample

    def __iter__(self) -> Iterator[dict]:
        slot, num_slots = current_slot(self.rank, self.world_size)
        epoch, start, seen0, got = self.epoch, self.position, self.stats.seen, 0
        for pos, sample in self.iter_epoch(epoch, slot, num_slots, start):
            self.position, got = pos, got + 1
            yield sample
        read = self.stats.seen - seen0
        if start == 0 and got == 0:
            if read:
                s = self.stats
                where = f" (reader slot {slot} of {num_slots})" if num_slots > 1 else ""
                raise DataError(
                    f"no usable samples in {self.path}{where}: {read} records read, all skipped "
                    f"(missing {s.skipped_missing}, corrupt {s.skipped_corrupt}, too small {s.skipped_too_small}, "
                    f"invalid {s.skipped_invalid})"
                )
            log.warning("%s: slot %d of %d got no records this epoch (fewer shards/rows than ranks x workers?)", self.path, slot, num_slots)
        # In-process iteration moves on by itself; with dataloader workers the trainer calls set_epoch.
        self.epoch, self.position = epoch + 1, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch, self.position = int(epoch), 0

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "position": self.position, "seed": self.seed, "stats": self.stats.as_dict()}

    def load_state_dict(self, state: dict) -> None:
        if int(state.get("seed", self.seed)) != self.seed:
            raise DataError(f"{self.path}: data state was saved with seed {state['seed']}, this run uses {self.seed}")
        self.epoch, self.position = int(state["epoch"]), int(state["position"])
        self.stats.load(state.get("stats", {}))


class IndexedStream(SampleStream):
    """Readers over a random-access table (HF, parquet, JSONL): a per-epoch permutation, split by slot."""

    def __len__(self) -> int:
        raise NotImplementedError

    def record(self, index: int) -> Record:
        raise NotImplementedError

    def order(self, epoch: int) -> torch.Tensor:
        # Same permutation on every rank and worker (seeded by epoch only), so the slot slices are disjoint.
        if not self.shuffle:
            return torch.arange(len(self))
        return torch.randperm(len(self), generator=torch.Generator().manual_seed(self.seed * 100003 + epoch))

    def records(self, epoch: int, slot: int, num_slots: int, start: int = 0) -> Iterator[Record]:
        # Resuming skips rows by index: nothing before `start` is even read.
        for index in self.order(epoch)[slot::num_slots][start:].tolist():
            yield self.record(index)
