"""Errors of the metrics that a user can fix."""

from ...errors import InputError, UniImageError


class WeightsUnavailableError(UniImageError):
    """A metric network's weights are neither given nor cached, and cannot be downloaded here."""


class ImageFolderError(InputError):
    """An image folder is missing, empty or holds too few images for the metric."""
