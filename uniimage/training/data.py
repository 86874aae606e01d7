"""Training data for the loop: self-generated synthetic sets, the configured stream, endless batches (data/loader.py)."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Callable

from ..data import build_dataset
from ..errors import ConfigError
from ..data.loader import BatchLoader
from .config import DataConfig, SyntheticData

log = logging.getLogger(__name__)


def synthetic_spec(cfg: SyntheticData, output_dir: Path, is_main: bool, barrier: Callable[[], None]) -> dict:
    """ShapesEval scenes rendered once into OUTPUT_DIR/<folder> (written aside, then renamed: a crash
    never leaves half a data set that later runs would trust)."""
    folder = Path(output_dir) / cfg.folder
    manifest = folder / "train.jsonl"
    if is_main and not manifest.is_file():
        from ..shapes.dataset import write_dataset

        tmp = folder.with_name(folder.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        write_dataset(tmp, cfg.n_t2i, cfg.n_edit, 0, split="train", image_size=cfg.image_size, seed=cfg.seed, formats=("jsonl",))
        shutil.rmtree(folder, ignore_errors=True)
        tmp.rename(folder)
    barrier()
    return {"path": str(manifest), "type": "jsonl"}


def dataset_specs(cfg: DataConfig, output_dir: Path, is_main: bool, barrier) -> list[dict]:
    specs = [dict(s) for s in cfg.datasets or []]
    if cfg.synthetic is not None:
        specs.append(synthetic_spec(cfg.synthetic, output_dir, is_main, barrier))
    for spec in specs:
        spec.setdefault("cfg_dropout", cfg.cfg_dropout)  # a spec's own rule wins
    return specs


def build_stream(cfg: DataConfig, output_dir: Path, image_size: int, seed: int, rank: int, world_size: int,
                 is_main: bool = True, barrier=lambda: None):
    specs = dataset_specs(cfg, output_dir, is_main, barrier)
    return build_dataset(specs, image_size, seed=seed, rank=rank, world_size=world_size, until=cfg.mixture_until)


def build_batches(cfg: DataConfig, stream, batch_size: int, seed: int) -> BatchLoader:
    """Endless batches of this rank's slot, decoded in `cfg.num_workers` worker processes (0: in process)."""
    return BatchLoader(stream, batch_size, num_workers=cfg.num_workers, prefetch_factor=cfg.prefetch_factor,
                       pin_memory=cfg.pin_memory, seed=seed)


def use_latent_caches(stream, model) -> bool:
    """True when every data set is a latent cache (`uniimage data cache-latents`): each must come from
    this model's VAE, and the VAE encoder is then dropped (training never runs it). Mixing cached and
    pixel data sets is refused: a batch is all latents or all pixels."""
    from ..data.latents import LatentReader, vae_fingerprint

    readers = list(getattr(stream, "children", [stream]))
    cached = [r for r in readers if isinstance(r, LatentReader)]
    if not cached:
        return False
    if len(cached) != len(readers):
        raise ConfigError("data.datasets mixes latent caches with pixel data sets: cache them all "
                          "(uniimage data cache-latents) or none")
    ours = vae_fingerprint(model.vae)
    for r in cached:
        if r.manifest["vae"] != ours:
            raise ConfigError(f"latent cache {r.path} was made with another VAE (fingerprint {r.manifest['vae']}, "
                              f"this model's is {ours}): re-run uniimage data cache-latents with this model")
    model.vae.encoder = None  # frees its memory; the decoder stays for sample grids
    return True
