"""FID between two image folders (or precomputed .npz statistics) under any feature network."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from .features import FeatureNetwork, custom_network
from .frechet import frechet_distance
from .image_folders import iter_batches, list_images
from .inception import load_inception
from .stats import FeatureStats, load_stats


def resolve_feature_network(features: str, weights: str | None, device: str,
                            input_size: int | None = None) -> FeatureNetwork:
    """'inception' (the FID standard, weights found offline or given) or 'module:factory'."""
    if features == "inception":
        return load_inception(weights, device)
    return custom_network(features, device, input_size)


@dataclass
class FidResult:
    fid: float
    real_count: int | None  # None when read from precomputed statistics
    fake_count: int | None
    feature_network: str
    feature_dim: int

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class SideStats:
    mu: np.ndarray
    sigma: np.ndarray
    count: int | None

    def save(self, path: Path) -> None:
        # `mu` / `sigma` are the names pytorch-fid and clean-fid use for precomputed reference statistics.
        np.savez(path, mu=self.mu, sigma=self.sigma, count=-1 if self.count is None else self.count)


def folder_statistics(folder, network: FeatureNetwork, batch_size: int = 50, progress: bool = False) -> FeatureStats:
    files = list_images(folder)
    stats = None
    batches = iter_batches(files, batch_size, network.input_size)
    for batch in tqdm(batches, total=-(-len(files) // batch_size), desc=Path(folder).name, disable=not progress):
        features = network(batch).numpy()
        if stats is None:
            stats = FeatureStats.empty(features.shape[1])
        stats.add(features)
    stats.covariance  # raises a clear error for a single image
    return stats


def side_statistics(source, network: FeatureNetwork | None, batch_size: int = 50, progress: bool = False) -> SideStats:
    """A folder is read through the network; an .npz file holds ready statistics (e.g. of a reference set)."""
    path = Path(source)
    if path.suffix == ".npz" and path.is_file():
        return SideStats(*load_stats(path), None)
    stats = folder_statistics(path, network, batch_size, progress)
    return SideStats(stats.mean, stats.covariance, stats.count)


def compute_fid(real, fake, network: FeatureNetwork | None, batch_size: int = 50, progress: bool = False,
                save_real_stats: Path | None = None) -> FidResult:
    a = side_statistics(real, network, batch_size, progress)
    if save_real_stats is not None:
        a.save(save_real_stats)
    b = side_statistics(fake, network, batch_size, progress)
    name = network.name if network is not None else "precomputed"
    return FidResult(frechet_distance(a.mu, a.sigma, b.mu, b.sigma), a.count, b.count, name, int(np.size(a.mu)))
