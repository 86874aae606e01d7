"""The one dtype-name map of every `--dtype`, config field and benchmark setting. Importing this
costs no torch import (the command line builds its parsers from DTYPE_NAMES before loading torch)."""

from __future__ import annotations

from ..errors import ConfigError

DTYPE_NAMES = ("float32", "bfloat16", "float16")


def torch_dtype(name: str):
    """'float32' | 'bfloat16' | 'float16' -> the torch dtype; anything else is a ConfigError naming it."""
    import torch

    if name not in DTYPE_NAMES:
        raise ConfigError(f"dtype must be one of {', '.join(DTYPE_NAMES)}, got {name!r}")
    return getattr(torch, name)
