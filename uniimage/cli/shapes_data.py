"""Render ShapesEval data to a folder (JSONL + PNGs, webdataset shards):

    python -m uniimage.cli.shapes_data --out data/shapes --split train --n-t2i 6000 --n-edit 2000 --n-vqa 2000
"""

from __future__ import annotations

import argparse
import sys

from ..shapes.dataset import FORMATS, write_dataset
from ..shapes.prompts import SPLITS
from ..shapes.render import DEFAULT_IMAGE_SIZE


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--split", choices=SPLITS, default="train")
    parser.add_argument("--n-t2i", type=int, default=600)
    parser.add_argument("--n-edit", type=int, default=200)
    parser.add_argument("--n-vqa", type=int, default=200)
    parser.add_argument("--image-size", type=int, default=DEFAULT_IMAGE_SIZE)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--formats", nargs="+", choices=FORMATS, default=list(FORMATS))
    parser.add_argument("--shard-size", type=int, default=1000)
    parser.add_argument("--edit-add-grid", type=int, default=None, metavar="N",
                        help="put an edit's added object at the centre of the first free cell of an N x N grid instead "
                             "of a random free spot (training data: a random place cannot be learnt; the judge takes any)")


def run(args) -> int:
    result = write_dataset(
        args.out, args.n_t2i, args.n_edit, args.n_vqa, split=args.split, image_size=args.image_size,
        seed=args.seed, formats=tuple(args.formats), shard_size=args.shard_size, edit_add_grid=args.edit_add_grid,
    )
    for key in ("jsonl", "vqa_jsonl"):
        if key in result:
            print(f"wrote {result[key]}")
    for shard in result["wds"]:
        print(f"wrote {shard}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m uniimage.cli.shapes_data", description="Render ShapesEval data.")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
