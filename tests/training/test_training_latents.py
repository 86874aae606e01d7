"""Cached VAE latents (`uniimage data cache-latents`): the same samples, the same loss as training from
pixels, no VAE encoder in the trainer, and refusals for a cache of another VAE or a mixed data set."""

import io
import tarfile

import numpy as np
import pytest
import torch
from training_helpers import tiny_config, trainable

import uniimage.cli.main as cli_main
from uniimage.data import build_dataset
from uniimage.data.latents import read_manifest
from uniimage.errors import ConfigError
from uniimage.presets import build_preset
from uniimage.training import Trainer


@pytest.fixture(scope="module")
def cache(tmp_path_factory, shapes_jsonl):
    out = tmp_path_factory.mktemp("cache") / "latents"
    code = cli_main.main(["data", "cache-latents", str(shapes_jsonl), "-o", str(out), "--model", "tiny",
                          "--batch-size", "5", "--shard-size", "7"])
    assert code == 0
    return out


def test_cache_holds_the_vae_latents_captions_and_source_images(cache, shapes_jsonl):
    manifest = read_manifest(cache)
    assert manifest["samples"] == 24 and manifest["source_stats"]["edit"] == 8
    assert len(list(cache.glob("latents-*.tar"))) == 4  # 24 samples, 7 a shard
    model, _, _ = build_preset("tiny", seed=0)
    size = model.config.image_size
    pixels = list(build_dataset({"type": "jsonl", "path": str(shapes_jsonl), "shuffle": False}, size).iter_epoch(0))
    cached = list(build_dataset({"type": "latents", "path": str(cache), "shuffle": False}, size).iter_epoch(0))
    assert [s["key"] for _, s in cached] == [s["key"] for _, s in pixels]
    with torch.no_grad():
        expected = model.encode_latents(torch.stack([s["target"] for _, s in pixels]))
    got = torch.stack([s["latent"] for _, s in cached])
    assert got.shape == expected.shape and torch.allclose(got, expected, atol=1e-5)
    for (_, p), (_, c) in zip(pixels, cached):
        assert c["caption"] == p["caption"] and c["kind"] == p["kind"]
        assert len(c["source_images"]) == len(p["source_images"])
        assert all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(c["source_images"], p["source_images"]))


def test_training_from_the_cache_gives_the_pixel_loss(tmp_path, cache, shapes_jsonl):
    common = {"max_steps": 3, "grad_accum": 2, "data.cfg_dropout": "auto"}
    pixels = Trainer(tiny_config(tmp_path / "p", shapes_jsonl, **common, **{"data.datasets.0.shuffle": "false"}))
    latents = Trainer(tiny_config(tmp_path / "l", cache, **common, **{"data.datasets.0.type": "latents",
                                                                      "data.datasets.0.shuffle": "false"}))
    assert latents.latent_cache and latents.model.vae.encoder is None and pixels.model.vae.encoder is not None
    a, b = pixels.train()["losses"], latents.train()["losses"]
    assert len(a) == 3 and torch.allclose(torch.tensor(a), torch.tensor(b), rtol=1e-5, atol=1e-6), (a, b)
    wa, wb = trainable(pixels), trainable(latents)
    assert all(torch.allclose(wa[k], wb[k], atol=1e-5) for k in wa)


def test_cache_of_another_vae_or_a_mixed_data_set_is_refused(tmp_path, cache, shapes_jsonl):
    with pytest.raises(ConfigError, match="made with another VAE"):
        Trainer(tiny_config(tmp_path / "a", cache, **{"model.seed": 1, "data.datasets.0.type": "latents"}))
    mixed = tiny_config(tmp_path / "b", cache, **{"data.datasets.0.type": "auto"})
    mixed.data.datasets.append({"path": str(shapes_jsonl), "type": "jsonl"})
    with pytest.raises(ConfigError, match="mixes latent caches with pixel data sets"):
        Trainer(mixed)


def test_a_damaged_cached_sample_is_skipped_and_counted(tmp_path, cache):
    shard = sorted(cache.glob("latents-*.tar"))[0]
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "latents.json").write_text((cache / "latents.json").read_text())
    with tarfile.open(shard) as src, tarfile.open(broken / shard.name, "w") as dst:
        for m in src.getmembers():
            data = src.extractfile(m).read()
            if m.name == "00000002.latent.safetensors":
                data = data[: len(data) // 2]  # truncated
            m.size = len(data)
            dst.addfile(m, io.BytesIO(data))
    reader = build_dataset({"type": "auto", "path": str(broken), "shuffle": False}, 32)
    keys = [s["key"] for _, s in reader.iter_epoch(0)]
    assert len(keys) == 6 and reader.stats.skipped_corrupt == 1 and reader.stats.seen == 7
