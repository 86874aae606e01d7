"""Read a whole data set once, in order, and count what is usable (behind `uniimage data check`)."""

from __future__ import annotations

from .factory import build_reader
from .stats import DataStats


def check_dataset(path, kind: str = "auto", image_size: int = 512, min_size: int | None = None) -> DataStats:
    """Decode and transform every record (no shuffle, one process); returns the counts. Raises DataError
    only for a path that is missing or not a data set, not for a data set whose samples are all bad."""
    spec = {"type": kind, "path": str(path), "shuffle": False, "min_size": min_size}
    reader = build_reader(spec, image_size, seed=0, rank=0, world_size=1)
    for _ in reader.iter_epoch(0):
        pass
    return reader.stats
