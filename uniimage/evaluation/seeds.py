"""Per-prompt seeds: a pure function of (base seed, prompt index), so the same prompt gets the same
noise whatever the shard, the `--limit`, the batch or the resume point."""

from __future__ import annotations

import hashlib

import torch


def prompt_seed(base_seed: int, index: int) -> int:
    # Hashing (not base + index) keeps runs with neighbouring base seeds from sharing noise.
    digest = hashlib.sha256(f"uniimage-eval:{base_seed}:{index}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def prompt_generator(base_seed: int, index: int) -> torch.Generator:
    # A CPU generator gives the same noise on every device (the pipeline moves the noise to its device).
    return torch.Generator(device="cpu").manual_seed(prompt_seed(base_seed, index))
