"""`uniimage data cache-latents`: encode a data set's targets once with the VAE into latent shards that
`LatentReader` (latents.py) reads back. Apart from the reader, so the reader never imports the reader
factory that imports it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch

from ..errors import DataError
from .factory import build_reader
from .latents import FORMAT, MANIFEST, _encode_batch, _ShardWriter, vae_fingerprint


@torch.no_grad()
def write_latent_cache(spec: dict, model, out, image_size: int, batch_size: int = 8, shard_size: int = 1000,
                       device="cpu") -> dict:
    """Encode every usable sample of the data set `spec` (in file order, no dropout) with `model`'s VAE.
    Unusable samples are skipped and counted as in training. Returns the manifest."""
    out = Path(out)
    if out.exists():
        raise DataError(f"{out} already exists: choose a new folder for the latent cache")
    if batch_size < 1 or shard_size < 1:
        raise DataError(f"batch size and shard size must be >= 1, got {batch_size}, {shard_size}")
    reader = build_reader(dict(spec, shuffle=False, cfg_dropout=None), image_size, seed=0, rank=0, world_size=1)
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    writer, shape = _ShardWriter(tmp, shard_size), None
    try:
        pending = []
        for _, sample in reader.iter_epoch(0):
            pending.append(sample)
            if len(pending) == batch_size:
                shape = _encode_batch(model, pending, writer, device)
                pending = []
        if pending:
            shape = _encode_batch(model, pending, writer, device)
    finally:
        writer.close()
    if writer.count == 0:
        shutil.rmtree(tmp, ignore_errors=True)
        raise DataError(f"no usable samples in {spec['path']}: nothing to cache ({reader.stats.as_dict()})")
    manifest = {"format": FORMAT, "source": str(spec["path"]), "image_size": image_size, "latent_shape": list(shape),
                "samples": writer.count, "vae": vae_fingerprint(model.vae), "source_stats": reader.stats.as_dict()}
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2))
    tmp.rename(out)
    return manifest
