"""Frechet distance math, streamed statistics, and FID over folders with injected networks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg
import torch
from PIL import Image

from uniimage.evaluation.metrics import FeatureStats, compute_fid, frechet_distance
from uniimage.evaluation.metrics.features import FeatureNetwork

HERE = Path(__file__).resolve().parent


def _reference_fid(mu1, s1, mu2, s2):
    """The textbook formula through scipy's sqrtm (fine for these well-conditioned inputs)."""
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def test_one_dimensional_gaussians():
    # N(0, 1) vs N(1, 4): 1 + 1 + 4 - 2 * sqrt(4) = 2
    assert frechet_distance([0.0], [[1.0]], [1.0], [[4.0]]) == pytest.approx(2.0)


def test_matches_scipy_and_is_zero_on_itself():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(200, 6)), rng.normal(size=(200, 6)) @ rng.normal(size=(6, 6)) + 0.5
    mu1, s1, mu2, s2 = a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(_reference_fid(mu1, s1, mu2, s2), rel=1e-8)
    assert frechet_distance(mu1, s1, mu1, s1) < 1e-9


def test_singular_covariances_stay_finite_and_non_negative():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(5, 64))  # fewer samples than dimensions: rank-deficient covariance
    mu, s = a.mean(0), np.cov(a, rowvar=False)
    assert 0.0 <= frechet_distance(mu, s, mu, s) < 1e-8
    assert np.isfinite(frechet_distance(mu, s, mu + 1, s * 2))


def test_streamed_statistics_equal_numpy():
    x = np.random.default_rng(2).normal(3.0, 2.0, size=(101, 5))
    stats = FeatureStats.empty(5)
    for part in np.array_split(x, 7):
        stats.add(part)
    assert stats.count == 101
    np.testing.assert_allclose(stats.mean, x.mean(0), atol=1e-12)
    np.testing.assert_allclose(stats.covariance, np.cov(x, rowvar=False), atol=1e-12)


def _folder(path: Path, n: int, low: int, high: int, seed: int, size: int = 32) -> Path:
    path.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        Image.fromarray(rng.integers(low, high, size=(size, size, 3), dtype=np.uint8)).save(path / f"{i:03d}.png")
    return path


@pytest.fixture
def tiny_net():
    import sys

    sys.path.insert(0, str(HERE))
    try:
        from eval_tiny_nets import TinyFeatures
    finally:
        sys.path.remove(str(HERE))
    return FeatureNetwork(TinyFeatures(), 32, "tiny")


def test_fid_of_a_folder_against_itself_is_zero(tmp_path, tiny_net):
    folder = _folder(tmp_path / "a", 12, 0, 256, seed=0, size=40)
    result = compute_fid(folder, folder, tiny_net, batch_size=5)
    assert result.fid < 1e-3 and result.real_count == result.fake_count == 12 and result.feature_dim == 16


def test_fid_separates_distributions(tmp_path, tiny_net):
    dark = _folder(tmp_path / "dark", 12, 0, 100, seed=0)
    dark2 = _folder(tmp_path / "dark2", 12, 0, 100, seed=1)
    bright = _folder(tmp_path / "bright", 12, 150, 256, seed=2)
    same_kind, different = compute_fid(dark, dark2, tiny_net).fid, compute_fid(dark, bright, tiny_net).fid
    assert different > 0.1 and different > 20 * same_kind


def test_cli_fid_with_an_injected_network(cli, capsys, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(HERE))
    a = _folder(tmp_path / "a", 6, 0, 256, seed=0)
    assert cli(["metrics", "fid", str(a), str(a), "--features", "eval_tiny_nets:TinyFeatures", "--json",
                "--save-real-stats", str(tmp_path / "a.npz"), "--no-progress"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["fid"] < 1e-3 and result["fake_count"] == 6
    # Saved reference statistics stand in for the folder (no network needed for two .npz files).
    assert cli(["metrics", "fid", str(tmp_path / "a.npz"), str(tmp_path / "a.npz"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["fid"] < 1e-3


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_cli_fid_with_torchscript_inception_weights(cli, capsys, tmp_path, monkeypatch):
    """The TorchScript loading path (the format of inception-2015-12-05.pt), on a tiny stand-in."""
    monkeypatch.syspath_prepend(str(HERE))
    from eval_tiny_nets import TinyInception

    weights = tmp_path / "inception.pt"
    torch.jit.script(TinyInception()).save(str(weights))
    a = _folder(tmp_path / "a", 4, 0, 256, seed=0, size=16)
    b = _folder(tmp_path / "b", 4, 100, 256, seed=1, size=16)
    assert cli(["metrics", "fid", str(a), str(b), "--inception-weights", str(weights), "--json", "--no-progress"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["fid"] > 0 and result["feature_network"] == "inception:inception.pt"


@pytest.mark.parametrize("case", ["missing", "empty", "single", "no-weights"])
def test_cli_fid_errors(cli, capsys, tmp_path, monkeypatch, case):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))  # an empty hub cache
    monkeypatch.delenv("UNIIMAGE_INCEPTION_WEIGHTS", raising=False)
    a = _folder(tmp_path / "a", 3, 0, 256, seed=0)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no images")
    single = _folder(tmp_path / "single", 1, 0, 256, seed=0)
    other = {"missing": tmp_path / "nope", "empty": tmp_path / "empty", "single": single, "no-weights": a}[case]
    features = [] if case == "no-weights" else ["--features", "eval_tiny_nets:TinyFeatures"]
    monkeypatch.syspath_prepend(str(HERE))
    assert cli(["metrics", "fid", str(a), str(other), *features, "--no-progress"]) == 1
    err = capsys.readouterr().err
    expected = {"missing": "image folder not found", "empty": "no images", "single": "at least 2 images",
                "no-weights": "not available offline"}[case]
    assert expected in err and len(err.strip().splitlines()) == 1
    if case == "no-weights":
        assert "--inception-weights" in err
