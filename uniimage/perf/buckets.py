"""Batch-size buckets: a compiled graph is specialised to its input shapes, so a call of B images runs
at the smallest bucket >= B (padding rows, slicing them off after) and a server meets a handful of
shapes instead of one per batch size.

    buckets (1, 2, 4, 8, 16):  B = 3 -> 4,  B = 5 -> 8,  B = 20 -> 32 (multiples of the largest)
"""

from __future__ import annotations

from typing import Sequence

import torch

from ..errors import InputError

DEFAULT_BUCKETS = (1, 2, 4, 8, 16)


def check_buckets(buckets: Sequence[int] | None) -> tuple[int, ...] | None:
    """None (exact sizes) or a strictly increasing tuple of positive integers."""
    if buckets is None:
        return None
    try:
        values = tuple(buckets)
    except TypeError:
        raise InputError(f"batch buckets must be a sequence of positive integers, got {buckets!r}") from None
    if not values or not all(isinstance(b, int) and not isinstance(b, bool) and b >= 1 for b in values):
        raise InputError(f"batch buckets must be positive integers, got {list(values)}")
    if any(a >= b for a, b in zip(values, values[1:])):
        raise InputError(f"batch buckets must be strictly increasing, got {list(values)}")
    return values


def bucket_size(rows: int, buckets: Sequence[int] | None) -> int:
    """The batch a call of `rows` images runs at. Above the largest bucket: its next multiple."""
    if not buckets:
        return rows
    for b in buckets:
        if rows <= b:
            return b
    largest = buckets[-1]
    return -(-rows // largest) * largest


def pad_rows(x: torch.Tensor, size: int, dim: int = 0) -> torch.Tensor:
    """Pad `dim` up to `size` by repeating the last row (a real input: no NaN or scale surprises)."""
    rows = x.shape[dim]
    if rows == size:
        return x
    if rows > size:
        raise ValueError(f"cannot pad {rows} rows down to {size}")
    last = x.narrow(dim, rows - 1, 1)
    return torch.cat([x, last.expand(*[size - rows if d == dim else -1 for d in range(x.ndim)])], dim=dim)


def pad_groups(x: torch.Tensor, groups: int, size: int, dim: int = 0) -> torch.Tensor:
    """`dim` holds `groups` equal CFG groups of rows (group-major): pad each group to `size` rows."""
    parts = x.chunk(groups, dim=dim) if groups > 1 else (x,)
    return torch.cat([pad_rows(p, size, dim) for p in parts], dim=dim)
