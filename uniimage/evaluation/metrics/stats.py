"""Mean and covariance of features, accumulated batch by batch in float64.

Batches merge with Chan et al.'s parallel update (no sum-of-squares minus mean^2, which cancels
catastrophically), so 50k x 2048 features never need to sit in memory at once."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...errors import ImageFolderError


@dataclass
class FeatureStats:
    count: int
    mean: np.ndarray  # (D,)
    m2: np.ndarray  # (D, D) sum of centred outer products

    @classmethod
    def empty(cls, dim: int) -> "FeatureStats":
        return cls(0, np.zeros(dim), np.zeros((dim, dim)))

    def add(self, features) -> None:
        x = np.asarray(features, dtype=np.float64).reshape(len(features), -1)
        n_b = len(x)
        if n_b == 0:
            return
        mean_b = x.mean(axis=0)
        centred = x - mean_b
        m2_b = centred.T @ centred
        n = self.count + n_b
        delta = mean_b - self.mean
        self.m2 += m2_b + np.outer(delta, delta) * (self.count * n_b / n)
        self.mean += delta * (n_b / n)
        self.count = n

    @property
    def covariance(self) -> np.ndarray:
        if self.count < 2:
            raise ImageFolderError(f"a covariance needs at least 2 images, got {self.count}")
        return self.m2 / (self.count - 1)


def load_stats(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(mu, sigma) from an .npz written by `save` (or by pytorch-fid / clean-fid)."""
    try:
        with np.load(path) as data:
            return data["mu"], data["sigma"]
    except (OSError, KeyError, ValueError) as e:
        raise ImageFolderError(f"{path}: not a statistics file with 'mu' and 'sigma' ({e})") from e
