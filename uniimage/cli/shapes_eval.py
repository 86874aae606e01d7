"""`uniimage eval shapes`: the command line of uniimage.shapes.evaluate (ShapesEval scoring)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..shapes.evaluate import DEFAULT_LIMIT, SOURCE_IMAGE_SIZE, TASKS, evaluate, summarise, write_results
from ..shapes.prompts import SPLITS
from .checks import in_range


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="model id, folder or preset name")
    parser.add_argument("--split", choices=SPLITS, default="heldout")
    parser.add_argument("--task", choices=TASKS, default="t2i")
    parser.add_argument("--limit", type=int, default=None, help="number of prompts (default per task: %s)" % DEFAULT_LIMIT)
    parser.add_argument("--json", action="store_true", help="print one JSON object of accuracies")
    parser.add_argument("--out", type=Path, default=None, help="results JSONL, one line per prompt")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--guidance", type=float, default=4.5)
    parser.add_argument("--guidance-interval", type=float, nargs=2, default=None, metavar=("LO", "HI"),
                        help="guide only at noise levels sigma in [LO, HI] (default: the model's; 0 1: every step)")
    parser.add_argument("--image-guidance", type=float, default=1.5,
                        help="edit task: guidance towards the source image (default 1.5, the published app's)")
    parser.add_argument("--images-per-prompt", type=int, default=1)
    parser.add_argument("--image-size", type=int, default=SOURCE_IMAGE_SIZE, help="size of rendered input images")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda if there is one)")


def report(summary: dict, rows: list[dict], as_json: bool) -> None:
    if as_json:
        print(json.dumps(summary, sort_keys=True))
        return
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["category"]] = counts.get(row["category"], 0) + 1
    for category in sorted(counts):
        print(f"{category:>14}: {summary[category]:.3f}  ({counts[category]} prompts)")
    print(f"{'overall':>14}: {summary['overall']:.3f}")
    if summary.get("factors"):
        print("factors (share right, over the prompts that name it): "
              + ", ".join(f"{name} {share:.3f}" for name, share in summary["factors"].items()))


def check(args) -> None:
    """Bad numbers fail here, each naming its option, before a model is loaded."""
    if args.limit is not None:
        in_range("--limit", args.limit, 1)
    in_range("--images-per-prompt", args.images_per_prompt, 1)
    in_range("--steps", args.steps, 1)
    in_range("--guidance", args.guidance, 0.0)
    in_range("--image-guidance", args.image_guidance, 0.0)


def run(args) -> int:
    check(args)
    from uniimage import UniImagePipeline

    import torch

    from ..utils.devices import move_to

    pipe = UniImagePipeline.from_pretrained(args.model)
    move_to(pipe, args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    rows = evaluate(pipe, task=args.task, split=args.split, limit=args.limit, seed=args.seed, steps=args.steps,
                    guidance=args.guidance, images_per_prompt=args.images_per_prompt, image_size=args.image_size,
                    guidance_interval=args.guidance_interval, image_guidance=args.image_guidance)
    if args.out:
        write_results(args.out, rows)
        print(f"wrote {len(rows)} results to {args.out}", file=sys.stderr)
    report(summarise(rows), rows, args.json)
    return 0
