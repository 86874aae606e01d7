"""Frechet distance between two Gaussians:  |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^1/2).

tr((S1 S2)^1/2) is computed from symmetric eigendecompositions: S1 S2 is similar to
R S2 R with R = S1^1/2, which is symmetric positive semi-definite, so its eigenvalues are real and
(after clipping rounding noise below 0) have real square roots. This avoids scipy.linalg.sqrtm of a
non-symmetric product, whose complex parts and failures on singular covariances (fewer images than
feature dimensions) need ad hoc fixes."""

from __future__ import annotations

import numpy as np

from ...errors import InputError


def _psd_sqrt(s: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh(s)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def _sym(s) -> np.ndarray:
    s = np.atleast_2d(np.asarray(s, dtype=np.float64))
    return (s + s.T) / 2.0


def trace_sqrt_product(s1: np.ndarray, s2: np.ndarray) -> float:
    r = _psd_sqrt(_sym(s1))
    eig = np.linalg.eigvalsh(_sym(r @ _sym(s2) @ r))
    return float(np.sqrt(np.clip(eig, 0.0, None)).sum())


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    s1, s2 = _sym(sigma1), _sym(sigma2)
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (mu1.size, mu1.size):
        raise InputError(f"feature statistics do not match: mu {mu1.shape} vs {mu2.shape}, sigma {s1.shape} vs {s2.shape}")
    diff = mu1 - mu2
    value = diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * trace_sqrt_product(s1, s2)
    # Rounding can leave a tiny negative for identical inputs; a distance is never below 0.
    return max(float(value), 0.0)
