"""Cached VAE latents: a data set's target images encoded once, so training never runs the VAE encoder.

    OUT/latents.json          what made it: the VAE's fingerprint, image size, latent shape, counts
    OUT/latents-00000.tar     webdataset shards; per sample NNNNNNNN.latent.safetensors (the target's latent,
                              already in the DiT's space), NNNNNNNN.json (key, caption), and for edit pairs
                              NNNNNNNN.src0.png ... (the source images, lossless: they go to the MLLM)

The published recipe has no random augmentation (resize short side + center crop), so a cached latent is
exactly what the training step would have computed. Written into OUT.tmp and renamed when complete.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import tarfile
from pathlib import Path

import torch
from PIL import Image
from safetensors import SafetensorError
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors

from .decode import _skip
from .dropout import apply_cfg_dropout
from ..errors import DataError
from .fields import Record
from .sample import make_sample
from .stream import rng_for
from .webdataset_reader import WebDatasetReader

log = logging.getLogger(__name__)
MANIFEST = "latents.json"
FORMAT = "uniimage-latents/1"


def vae_fingerprint(vae) -> str:
    """Hash of the VAE's config and weights: a cache only serves the VAE that made it.
    diffusers' bookkeeping keys are left out: `_use_default_values` is a list made from a set, so its order
    follows the process's string-hash seed, and hashing it made the same VAE's fingerprint differ per process."""
    config = {k: v for k, v in dict(vae.config).items() if not k.startswith("_") or k == "_class_name"}
    h = hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode())
    for name, tensor in sorted(vae.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().float().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def is_latent_cache(path) -> bool:
    return (Path(path) / MANIFEST).is_file()


def read_manifest(path) -> dict:
    try:
        manifest = json.loads((Path(path) / MANIFEST).read_text())
    except (OSError, ValueError) as e:
        raise DataError(f"{path} is not a latent cache ({MANIFEST} unreadable: {e})") from None
    if manifest.get("format") != FORMAT:
        raise DataError(f"{path}: unknown latent cache format {manifest.get('format')!r} (this version reads {FORMAT})")
    return manifest


# ---- writing ----
def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def _add(tar: tarfile.TarFile, name: str, data: bytes):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


class _ShardWriter:
    def __init__(self, folder: Path, shard_size: int):
        self.folder, self.shard_size, self.count, self.tar = folder, shard_size, 0, None

    def write(self, latent: torch.Tensor, sample: dict):
        if self.count % self.shard_size == 0:
            self.close()
            self.tar = tarfile.open(self.folder / f"latents-{self.count // self.shard_size:05d}.tar", "w")
        name = f"{self.count:08d}"
        _add(self.tar, f"{name}.latent.safetensors", save_tensors({"latent": latent.contiguous()}))
        meta = {"key": sample["key"], "caption": sample["caption"], "sources": len(sample["source_images"])}
        _add(self.tar, f"{name}.json", json.dumps(meta).encode())
        for i, src in enumerate(sample["source_images"]):
            _add(self.tar, f"{name}.src{i}.png", _png(src))
        self.count += 1

    def close(self):
        if self.tar is not None:
            self.tar.close()
            self.tar = None


def _encode_batch(model, samples: list[dict], writer: _ShardWriter, device) -> tuple:
    latents = model.encode_latents(torch.stack([s["target"] for s in samples]).to(device)).cpu()
    for latent, sample in zip(latents, samples):
        writer.write(latent, sample)
    return tuple(latents.shape[1:])


# ---- reading ----
class LatentReader(WebDatasetReader):
    """A latent cache as a training data set: samples carry `latent` [C, h, w] instead of `target` pixels."""

    def __init__(self, path, image_size: int, **kw):
        self.manifest = read_manifest(path)
        super().__init__(path, image_size, **kw)

    def to_record(self, raw: dict) -> Record:
        # Shard order, buffer shuffle and resume skipping are WebDatasetReader's; the members stay raw.
        return Record(key=f"{Path(raw.get('__url__', '')).name}/{raw['__key__']}", target=raw, caption=None)

    def iter_epoch(self, epoch: int, slot: int = 0, num_slots: int = 1, start: int = 0):
        for pos, rec in enumerate(self.records(epoch, slot, num_slots, start), start + 1):
            sample = self._decode(rec)
            if sample is None:
                continue
            if self.cfg_dropout is not None:
                sample = apply_cfg_dropout(sample, rng_for(self.seed, "dropout", epoch, slot, pos), self.cfg_dropout)
            yield pos, sample

    def _decode(self, rec: Record) -> dict | None:
        stats = self.stats
        stats.seen += 1
        raw = rec.target  # the tar sample's members
        try:
            meta = json.loads(raw["json"])
            latent = load_tensors(raw["latent.safetensors"])["latent"]
            sources = [Image.open(io.BytesIO(raw[f"src{i}.png"])).convert("RGB") for i in range(int(meta["sources"]))]
        except (KeyError, ValueError, OSError, TypeError, SafetensorError) as e:
            return _skip(stats, "skipped_corrupt", self.path, rec.key, f"unreadable cached sample: {e!r}")
        sample = make_sample(latent, str(meta["caption"]), sources, str(meta["key"]))
        sample["latent"] = sample.pop("target")
        stats.yielded += 1
        setattr(stats, sample["kind"], getattr(stats, sample["kind"]) + 1)
        return sample
