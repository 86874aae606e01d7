"""Moving a loaded pipeline to the device a user named."""

from __future__ import annotations

from ..errors import InputError


def move_to(pipe, device):
    """`pipe.to(device)`; a device this torch cannot use (no such device string, no CUDA build or GPU) is
    the user's input error, named, not a traceback."""
    try:
        return pipe.to(device)
    except (RuntimeError, AssertionError) as e:
        raise InputError(f"device {device!r} is not usable here: {e}") from e
