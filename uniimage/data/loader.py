"""Endless training batches from a reader, decoded in DataLoader worker processes, resumable exactly.

    reader (one epoch, a slot of ranks x workers)  ->  BatchStream (epoch after epoch, collated in the worker)
                                                   ->  torchdata StatefulDataLoader (workers, prefetch, pinning)
                                                   ->  BatchLoader (stats of all workers summed, state as plain data)

Batches are made inside each worker (`batch_size=None` for the DataLoader): the worker's reader position
after a batch *is* the data position, and StatefulDataLoader records it per worker together with which
worker delivers next, so a restored loader yields exactly the batches the uninterrupted one would have.
With `num_workers=0` everything runs in the training process (rank r still reads its own slot).
"""

from __future__ import annotations

import contextlib
import json
import logging
import warnings

import torch
from torch.utils.data import IterableDataset
from torchdata.stateful_dataloader import StatefulDataLoader

from ..errors import DataError
from .sample import collate
from .stats import DataStats
from .stream import current_slot

log = logging.getLogger(__name__)
STATS_KEY = "data_stats"  # rides along in every batch: {"slot": n, counters...} of the worker that made it


class BatchStream(IterableDataset):
    """Collated batches of `batch_size` from `stream`, epoch after epoch, forever; state = the stream's."""

    def __init__(self, stream, batch_size: int):
        if batch_size < 1:
            raise DataError(f"batch size must be >= 1, got {batch_size}")
        self.stream, self.batch_size = stream, int(batch_size)

    def samples(self):
        empty_passes = 0
        while True:  # each pass is the rest of one epoch (a resumed pass may have nothing left)
            got = 0
            for sample in self.stream:
                got += 1
                yield sample
            empty_passes = 0 if got else empty_passes + 1
            if empty_passes == 2:
                raise DataError("the training data gave no samples for a whole epoch in one reader slot "
                                "(fewer rows or shards than processes x data workers?)")

    def __iter__(self):
        slot, _ = current_slot(self.stream.rank, self.stream.world_size)
        samples = self.samples()
        while True:
            batch = collate([next(samples) for _ in range(self.batch_size)])
            batch[STATS_KEY] = {"slot": slot, **self.stream.stats.as_dict()}
            yield batch

    # StatefulDataLoader calls these inside each worker (the worker's own copy of the stream).
    def state_dict(self) -> dict:
        return self.stream.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.stream.load_state_dict(state)


@contextlib.contextmanager
def _quiet():
    """torchdata 0.11 calls torch.set_vital, which this torch deprecates: a warning per loader, not ours to fix."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*set_vital.*")
        yield


def _plain(obj):
    """Tuples -> lists, recursively, so the state is what a JSON round trip gives back."""
    return json.loads(json.dumps(obj))


class BatchLoader:
    """Endless batches; `state_dict()` is plain data (JSON-safe) holding the exact position of every worker."""

    def __init__(self, stream, batch_size: int, num_workers: int = 0, prefetch_factor: int = 2,
                 pin_memory: bool | None = None, seed: int = 0):
        if num_workers < 0:
            raise DataError(f"data.num_workers must be >= 0, got {num_workers}")
        self.stream = stream
        pin = torch.cuda.is_available() if pin_memory is None else bool(pin_memory)
        extra = {"prefetch_factor": prefetch_factor} if num_workers > 0 else {}
        # Own generator: the workers' base seed never draws from (or depends on) the global torch RNG.
        with _quiet():
            self.loader = StatefulDataLoader(BatchStream(stream, batch_size), batch_size=None, num_workers=num_workers,
                                             pin_memory=pin, generator=torch.Generator().manual_seed(seed), **extra)
        self.num_workers = num_workers
        self.slot_stats: dict[int, dict] = {}
        self._iter = None

    def __iter__(self):
        return self

    def __next__(self) -> dict:
        if self._iter is None:
            with _quiet():
                self._iter = iter(self.loader)
        batch = next(self._iter)
        report = batch.pop(STATS_KEY)
        self.slot_stats[int(report.pop("slot"))] = report
        return batch

    @property
    def stats(self) -> DataStats:
        """This rank's counters, summed over its data workers (as of the batches consumed so far)."""
        total = DataStats()
        for counters in self.slot_stats.values():
            one = DataStats()
            one.load(counters)
            total = total.add(one)
        return total

    def state_dict(self) -> dict:
        return _plain({"loader": self.loader.state_dict(), "num_workers": self.num_workers,
                       "slot_stats": {str(k): v for k, v in self.slot_stats.items()}})

    def load_state_dict(self, state: dict) -> None:
        if "loader" not in state:
            raise DataError("data state was saved by an older version without data workers; cannot resume it exactly")
        if int(state["num_workers"]) != self.num_workers:
            raise DataError(f"data state was saved with data.num_workers={state['num_workers']}, this run has "
                            f"{self.num_workers} (the split of the data over workers would change)")
        self.loader.load_state_dict(state["loader"])
        self.slot_stats = {int(k): dict(v) for k, v in state["slot_stats"].items()}
        self._iter = None  # the next batch comes from the restored position
