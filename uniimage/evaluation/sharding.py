"""Which tasks this process samples: `--shard i/n`, times the processes of `accelerate launch`."""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..errors import InputError


@dataclass(frozen=True)
class Shard:
    index: int = 0
    count: int = 1

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def select(self, items: list) -> list:
        # Round-robin rather than contiguous blocks: benchmark files are sorted by category, and
        # striding gives every shard the same mix (so shards finish at about the same time).
        return items[self.index :: self.count]


def parse_shard(text: str | None) -> Shard:
    """'i/n' with 0 <= i < n; None means the whole set."""
    if text is None:
        return Shard()
    try:
        i, n = (int(part) for part in text.split("/"))
    except ValueError:
        raise InputError(f"--shard must look like i/n (e.g. 0/4), got {text!r}") from None
    if n < 1 or not 0 <= i < n:
        raise InputError(f"--shard {text}: need 0 <= i < n")
    return Shard(i, n)


def is_launched() -> bool:
    """True under `accelerate launch` / torchrun with several processes (they set WORLD_SIZE)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def partial_state():
    """accelerate's process state. Without a GPU it must be asked for CPU explicitly, else it reports
    one process per launched process and every process would sample everything."""
    import torch
    from accelerate import PartialState

    return PartialState(cpu=not torch.cuda.is_available())


def launched_processes() -> tuple[int, int]:
    """(process index, process count) under a launcher, else (0, 1); a plain run never imports accelerate."""
    if not is_launched():
        return 0, 1
    state = partial_state()
    return state.process_index, state.num_processes


def effective_shard(user: Shard, process_index: int = 0, num_processes: int = 1) -> Shard:
    """Each launched process takes a sub-shard of the user's shard: items[i::n][p::P] == items[i + n*p :: n*P],
    so shard i/n covers the same prompts however many processes run it."""
    return Shard(user.index + user.count * process_index, user.count * num_processes)
