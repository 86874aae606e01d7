"""`uniimage data check PATH`: read a training data set once and report what is usable."""

from __future__ import annotations

import argparse
import logging

# The readers import torch: they load only when `data check` runs, so `uniimage --help` stays instant.
TYPES = ("webdataset", "hf", "parquet", "jsonl", "latents")  # = data.factory.TYPES (a test keeps them equal)


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("data", help="inspect training data sets")
    sub = parser.add_subparsers(dest="data_command", metavar="SUBCOMMAND")
    sub.required = True
    check = sub.add_parser("check", help="decode every sample of a data set and count usable / skipped ones")
    check.add_argument("path", help="webdataset shards (dir, glob, braces), save_to_disk folder, parquet, or .jsonl")
    check.add_argument("--type", default="auto", choices=("auto",) + TYPES, help="reader; auto guesses from the path")
    check.add_argument("--image-size", type=int, default=512, help="training size S (smaller images count as upscaled)")
    check.add_argument("--min-size", type=int, default=None, help="reject images whose short side is under this")
    check.add_argument("-v", "--verbose", action="store_true", help="log every skipped sample")
    check.set_defaults(func=run_check)
    cache = sub.add_parser("cache-latents", help="encode a data set's target images once with the VAE, into shards of latents")
    cache.add_argument("path", help="the data set (any type `data check` reads)")
    cache.add_argument("-o", "--output", required=True, help="new folder for the latent cache (then a dataset of type latents)")
    cache.add_argument("--model", required=True, help="whose VAE: a preset (tiny, small, ...), a published-format folder or a training run")
    cache.add_argument("--seed", type=int, default=0, help="a preset's weight seed (as model.seed of the training config)")
    cache.add_argument("--type", default="auto", choices=("auto",) + TYPES, help="reader; auto guesses from the path")
    cache.add_argument("--image-size", type=int, default=None, help="training size S (default: the model's)")
    cache.add_argument("--min-size", type=int, default=None, help="reject images whose short side is under this")
    cache.add_argument("--batch-size", type=int, default=8, help="images encoded per VAE call")
    cache.add_argument("--shard-size", type=int, default=1000, help="samples per tar shard")
    cache.add_argument("--device", default=None, help="default: cuda if available, else cpu")
    cache.set_defaults(func=run_cache_latents)


def run_check(args: argparse.Namespace) -> int:
    from ..data.check import check_dataset
    from ..errors import DataError

    if args.image_size < 1:
        raise DataError(f"--image-size must be positive, got {args.image_size}")
    # Per-sample skip warnings only on request: the counts below are the report.
    logger = logging.getLogger("uniimage.data")
    old = logger.level
    logger.setLevel(logging.WARNING if args.verbose else logging.ERROR)
    try:
        s = check_dataset(args.path, args.type, args.image_size, args.min_size)
    finally:
        logger.setLevel(old)
    print(f"dataset: {args.path}")
    print(f"total: {s.seen}")
    print(f"ok: {s.yielded} (t2i {s.t2i}, edit {s.edit}; upscaled {s.upscaled})")
    print(f"missing: {s.skipped_missing}")
    print(f"corrupt: {s.skipped_corrupt}")
    print(f"too small: {s.skipped_too_small}")
    print(f"invalid: {s.skipped_invalid}")
    if s.shard_errors:
        print(f"shard errors: {s.shard_errors}")
    if s.yielded == 0:
        raise DataError(f"no usable samples in {args.path}")
    return 0


def run_cache_latents(args: argparse.Namespace) -> int:
    from pathlib import Path

    import torch

    from ..data.latent_cache import write_latent_cache
    from ..training.config import ModelSource
    from ..training.model_source import load_model

    is_path = Path(args.model).expanduser().exists()
    source = ModelSource(pretrained=args.model) if is_path else ModelSource(preset=args.model, seed=args.seed)
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    model, _, _ = load_model(source, torch.float32)  # float32 VAE: the latents training would compute
    model.vae.to(device).eval()
    size = args.image_size or model.config.image_size
    spec = {"type": args.type, "path": args.path, "min_size": args.min_size}
    m = write_latent_cache(spec, model, args.output, size, batch_size=args.batch_size, shard_size=args.shard_size, device=device)
    s = m["source_stats"]
    print(f"cached {m['samples']} samples ({s['t2i']} t2i, {s['edit']} edit) of {args.path} at {size} px into {args.output}: "
          f"latents {m['latent_shape']}, VAE {m['vae']}; skipped {s['skipped_missing'] + s['skipped_corrupt'] + s['skipped_too_small'] + s['skipped_invalid']}")
    return 0
