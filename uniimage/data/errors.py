"""Errors a dataset can cause: the user's data or config, not our bug (the CLI prints them on one line)."""

from __future__ import annotations

from ..errors import UniImageError


class DataError(UniImageError):
    """A dataset path is missing, of an unknown kind, or holds no usable samples; the message names the path."""
