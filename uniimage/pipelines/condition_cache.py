"""Conditions that outlive a call: the unconditional (negative-prompt) rows are the same every call.

A row's condition depends on its caption, its input images and the MLLM + connector weights. The key
holds the first two (images by content, so a fresh black image of the same size hits); a fingerprint
of the weights (identity, device, dtype and in-place version counters of every parameter) guards the
rest: any `.to()`, `load_state_dict`, optimizer step or swapped module changes it and empties the cache.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

import torch
from PIL import Image


def image_key(image: Image.Image) -> tuple:
    """Content identity of an image: equal pixels, equal key (cheap next to the vision tower)."""
    return image.mode, image.size, hashlib.sha1(image.tobytes()).hexdigest()


def row_key(caption: str, images: list[Image.Image]) -> tuple:
    return caption, tuple(image_key(im) for im in images)


def weights_fingerprint(modules: list[torch.nn.Module], identity: bool = True) -> tuple:
    """Changes whenever a parameter is replaced, cast or modified in place. `identity=False` for
    sequential offload, whose hooks re-create every parameter on each forward."""
    parts = []
    for module in modules:
        parts.append(id(module))
        for p in module.parameters():
            # _version counts in-place writes (copy_, load_state_dict, optimizer steps); id catches swaps.
            parts.append((id(p) if identity else 0, p._version, p.dtype))
    return tuple(parts)


class ConditionCache:
    """LRU map row key -> (condition [K, N, C], mask [N]), valid for one weights fingerprint.
    Not locked: a pipeline is driven by one thread at a time (the server's single worker)."""

    def __init__(self, max_entries: int = 32):
        self.max_entries = max_entries
        self.enabled = True
        self.hits = self.misses = 0
        self._entries: OrderedDict = OrderedDict()
        self._fingerprint = None

    def __len__(self) -> int:
        return len(self._entries)

    def keys(self) -> list:
        """The keys held, least recently used first."""
        return list(self._entries)

    def clear(self):
        self._entries.clear()
        self._fingerprint = None

    def validate(self, fingerprint):
        """Drop everything if the weights (or where they live) changed since the entries were made."""
        if fingerprint != self._fingerprint:
            self._entries.clear()
            self._fingerprint = fingerprint

    def get(self, key):
        entry = self._entries.get(key) if self.enabled else None
        if entry is None:
            self.misses += 1
            return None
        self.hits += 1
        self._entries.move_to_end(key)
        return entry

    def put(self, key, condition: torch.Tensor, mask: torch.Tensor):
        if not self.enabled:
            return
        self._entries[key] = (condition, mask)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
