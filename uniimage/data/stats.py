"""Counters of what a reader saw, skipped and why: corrupt data is skipped and counted, never papered over."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields


@dataclass
class DataStats:
    seen: int = 0  # records read (before decoding)
    yielded: int = 0  # samples handed to the training loop
    skipped_missing: int = 0  # image path absent / column empty
    skipped_corrupt: int = 0  # image present but undecodable (truncated, random bytes, bomb...)
    skipped_too_small: int = 0  # short side under `min_size`
    skipped_invalid: int = 0  # record itself unusable (no caption, no image field, bad JSON line)
    upscaled: int = 0  # yielded, but the short side was under the training size
    t2i: int = 0  # yielded text-to-image samples
    edit: int = 0  # yielded editing samples
    shard_errors: int = 0  # read errors in tar shards (rest of that shard lost; one shard may report twice)

    @property
    def skipped(self) -> int:
        return self.skipped_missing + self.skipped_corrupt + self.skipped_too_small + self.skipped_invalid

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    def load(self, state: dict) -> None:
        for f in fields(self):
            setattr(self, f.name, int(state.get(f.name, 0)))

    def add(self, other: "DataStats") -> "DataStats":
        """Sum of two counters (e.g. over ranks or datasets of a mixture)."""
        return DataStats(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})
