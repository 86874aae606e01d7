"""Image metrics: FID (Frechet distance of feature statistics) and CLIP score, with pluggable networks
so they run on any feature extractor or CLIP (and offline, in tests, on tiny random ones)."""

from .clip_score import ClipScoreResult, compute_clip_score
from ...errors import WeightsUnavailableError
from .fid import FidResult, compute_fid, folder_statistics
from .frechet import frechet_distance
from .stats import FeatureStats

__all__ = [
    "FeatureStats",
    "frechet_distance",
    "folder_statistics",
    "compute_fid",
    "FidResult",
    "compute_clip_score",
    "ClipScoreResult",
    "WeightsUnavailableError",
]
