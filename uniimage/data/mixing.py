"""Weighted mixing of several readers (stage 3 mixes text-to-image and editing sets).

At each step a child is drawn with probability proportional to its weight among those still running.
`until="all_exhausted"` (default): an epoch of the mixture is one pass over every child (weights shape the
interleaving). `until="infinite"`: an exhausted child starts its next epoch, so the weights are the long-run
proportions of the stream.
"""

from __future__ import annotations

import random
from typing import Iterator

from torch.utils.data import IterableDataset

from ..errors import DataError
from .stats import DataStats
from .stream import SampleStream, current_slot, rng_for

UNTIL = ("all_exhausted", "infinite")


def _as_tuple(x):
    """Random.setstate wants nested tuples; a state that went through JSON comes back as lists."""
    return tuple(_as_tuple(v) for v in x) if isinstance(x, (list, tuple)) else x


class MixedStream(IterableDataset):
    def __init__(self, children: list[SampleStream], weights: list[float], seed: int = 0, until: str = "all_exhausted"):
        if not children or len(children) != len(weights):
            raise DataError("a mixture needs one weight per dataset and at least one dataset")
        if any(w < 0 for w in weights) or not any(w > 0 for w in weights):
            raise DataError(f"mixture weights must be >= 0 with at least one > 0, got {weights}")
        if until not in UNTIL:
            raise DataError(f"mixture `until` must be one of {UNTIL}, got {until!r}")
        self.children, self.weights, self.seed, self.until = children, [float(w) for w in weights], int(seed), until
        self.rank, self.world_size = children[0].rank, children[0].world_size
        self.epoch = 0
        self._reset()

    def _reset(self) -> None:
        n = len(self.children)
        self.child_epochs = [self.epoch] * n
        self.positions = [0] * n
        self.done = [w == 0 for w in self.weights]  # weight 0: never drawn
        self.rng_state = None  # None: fresh epoch RNG

    @property
    def stats(self) -> DataStats:
        total = DataStats()
        for child in self.children:
            total = total.add(child.stats)
        return total

    def _child_iter(self, i: int, slot: int, num_slots: int) -> Iterator[tuple[int, dict]]:
        return self.children[i].iter_epoch(self.child_epochs[i], slot, num_slots, self.positions[i])

    def __iter__(self) -> Iterator[dict]:
        slot, num_slots = current_slot(self.rank, self.world_size)
        rng = rng_for(self.seed, "mix", self.epoch, slot)
        if self.rng_state is not None:
            rng.setstate(self.rng_state)
        iters = [None if d else self._child_iter(i, slot, num_slots) for i, d in enumerate(self.done)]
        while not all(self.done):
            i = self._pick(rng)
            try:
                self.positions[i], sample = next(iters[i])
            except StopIteration:
                self._child_finished(i)
                iters[i] = None if self.done[i] else self._child_iter(i, slot, num_slots)
                continue
            self.rng_state = rng.getstate()
            yield sample
        self.epoch += 1
        self._reset()

    def _pick(self, rng: random.Random) -> int:
        live = [i for i, d in enumerate(self.done) if not d]
        return rng.choices(live, weights=[self.weights[i] for i in live])[0]

    def _child_finished(self, i: int) -> None:
        if self.until == "infinite" and self.positions[i] > 0:
            self.child_epochs[i] += 1
            self.positions[i] = 0
        else:  # all_exhausted, or a child with no records for this slot (would spin forever)
            self.done[i] = True

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)
        self._reset()

    def state_dict(self) -> dict:
        return {
            "epoch": self.epoch,
            "child_epochs": list(self.child_epochs),
            "positions": list(self.positions),
            "done": list(self.done),
            "rng_state": self.rng_state,
            "children": [c.state_dict() for c in self.children],
        }

    def load_state_dict(self, state: dict) -> None:
        self.epoch = int(state["epoch"])
        self.child_epochs, self.positions = list(state["child_epochs"]), list(state["positions"])
        self.done, self.rng_state = list(state["done"]), _as_tuple(state["rng_state"])
        for child, s in zip(self.children, state["children"]):
            child.stats.load(s.get("stats", {}))
