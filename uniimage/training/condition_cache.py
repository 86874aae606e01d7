"""Conditions of text-only prompts, computed once.

When nothing the condition passes through trains (the MLLM, its query rows and the connector all frozen:
the demo's stage 1 and joint stage), a prompt's condition is the same at every step, so a step need not run
the MLLM for a prompt it has seen. The same idea as diffusers' training scripts precomputing text
embeddings, kept in memory and filled as prompts arrive (no pass over the data first). A row with input
images is keyed by its caption and the images' pixels (the pipeline's `row_key`): an editing set's fixed
source images hit from their second epoch on, and a blacked-out image (the editing CFG dropout) is its own
row. The DiT sees the same condition as without the cache, up to float rounding: a row's states do not
depend on the rows padded beside it beyond that.
"""

import torch

from ..errors import ConfigError
from ..pipelines.condition_cache import ConditionCache as RowCache
from ..pipelines.condition_cache import row_key


def check_condition_frozen(trainable_names: list[str]) -> None:
    """The cache is only right if every trainable weight is the DiT's: say which would go stale."""
    moving = [n for n in trainable_names if not n.startswith("transformer.")]
    if moving:
        shown = ", ".join(moving[:3]) + (f" and {len(moving) - 3} more" if len(moving) > 3 else "")
        raise ConfigError(f"condition_cache needs a frozen condition (MLLM, query rows and connector), but {shown} "
                          "train: set condition_cache: 0 or freeze them")


class ConditionCache:
    """At most `max_items` prompts' (condition [K, N, C], mask [N]), least recently used dropped first: the
    pipeline's cache (`rows`, the same LRU and hit counts) filled a batch at a time. No weights fingerprint: the
    trainer only builds it when the condition cannot change (`check_condition_frozen`)."""

    def __init__(self, max_items: int):
        self.rows = RowCache(max_entries=max_items)

    hits = property(lambda self: self.rows.hits)
    misses = property(lambda self: self.rows.misses)

    def __call__(self, captions: list[str], images: list[list], encode) -> tuple[torch.Tensor, torch.Tensor]:
        """Rows' (condition [K, B, N, C], mask [B, N]); `encode(captions, images)` computes the rows not held."""
        keys = [row_key(caption, imgs) for caption, imgs in zip(captions, images)]
        rows = [self.rows.get(key) for key in keys]
        todo = [i for i, row in enumerate(rows) if row is None]
        if todo:
            with torch.no_grad():
                condition, mask = encode([captions[i] for i in todo], [images[i] for i in todo])
            for j, i in enumerate(todo):
                rows[i] = (condition[:, j].clone(), mask[j].clone())  # not a view of the batch's tensor
                self.rows.put(keys[i], *rows[i])
        return torch.stack([r[0] for r in rows], dim=1), torch.stack([r[1] for r in rows])
