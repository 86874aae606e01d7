"""Errors a user can cause. The CLI prints their message on one line (no traceback) and exits 1."""


class UniImageError(Exception):
    """Base class of every error that is the user's input, not our bug."""


class ConfigError(UniImageError, ValueError):
    """A config (model or training) is missing fields, has unknown keys or impossible values."""


class CheckpointError(UniImageError):
    """A checkpoint folder or file is missing, unreadable, or its tensors do not fit the model."""


class InputError(UniImageError, ValueError):
    """A call argument (prompt, steps, guidance, counts...) is out of range."""


class DataError(UniImageError):
    """A dataset path is missing, of an unknown kind, or holds no usable samples; the message names the path."""


class WeightsUnavailableError(UniImageError):
    """A metric network's weights are neither given nor cached, and cannot be downloaded here."""


class ImageFolderError(InputError):
    """An image folder is missing, empty or holds too few images for the metric."""
