"""`uniimage data check PATH`: read a training data set once and report what is usable."""

from __future__ import annotations

import argparse
import logging

# The readers import torch: they load only when `data check` runs, so `uniimage --help` stays instant.
TYPES = ("webdataset", "hf", "parquet", "jsonl")  # = data.factory.TYPES (a test keeps them equal)


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
