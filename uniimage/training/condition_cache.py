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

from collections import OrderedDict

import torch

from ..errors import ConfigError
from ..pipelines.condition_cache import row_key


def check_condition_frozen(trainable_names: list[str]) -> None:
    """The cache is only right if every trainable weight is the DiT's: say which would go stale."""
    moving = [n for n in trainable_names if not n.startswith("transformer.")]
    if moving:
        shown = ", ".join(moving[:3]) + (f" and {len(moving) - 3} more" if len(moving) > 3 else "")
        raise ConfigError(f"condition_cache needs a frozen condition (MLLM, query rows and connector), but {shown} "
                          "train: set condition_cache: 0 or freeze them")


class ConditionCache:
    """At most `max_items` prompts' (condition [K, N, C], mask [N]), least recently used dropped first."""

    def __init__(self, max_items: int):
        self.max_items = max_items
        self.store: OrderedDict[str, tuple[torch.Tensor, torch.Tensor]] = OrderedDict()
        self.hits = self.misses = 0

    def __call__(self, captions: list[str], images: list[list], encode) -> tuple[torch.Tensor, torch.Tensor]:
        """Rows' (condition [K, B, N, C], mask [B, N]); `encode(captions, images)` computes the rows not held."""
        keys = [row_key(caption, imgs) for caption, imgs in zip(captions, images)]
        todo = [i for i, key in enumerate(keys) if key not in self.store]
        fresh = {}
        if todo:
            with torch.no_grad():
                condition, mask = encode([captions[i] for i in todo], [images[i] for i in todo])
            fresh = {i: (condition[:, j], mask[j]) for j, i in enumerate(todo)}
        rows = []
        for i, key in enumerate(keys):
            if i in fresh:
                rows.append(fresh[i])
                self._put(key, fresh[i])
            else:
                self.store.move_to_end(key)
                rows.append(self.store[key])
        self.hits += len(keys) - len(todo)
        self.misses += len(todo)
        return torch.stack([r[0] for r in rows], dim=1), torch.stack([r[1] for r in rows])

    def _put(self, key: tuple, row: tuple[torch.Tensor, torch.Tensor]) -> None:
        self.store[key] = (row[0].detach().clone(), row[1].detach().clone())  # not a view of the batch's tensor
        if len(self.store) > self.max_items:
            self.store.popitem(last=False)
