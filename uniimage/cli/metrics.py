"""`uniimage metrics`: image metrics over folders.

  uniimage metrics fid REAL_DIR FAKE_DIR            Frechet Inception Distance (either side may be an .npz of mu/sigma)
  uniimage metrics clip-score IMAGES_DIR PROMPTS    CLIP score of images against their prompts
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def _device(name: str | None) -> str:
    import torch

    return name or ("cuda" if torch.cuda.is_available() else "cpu")


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("metrics", help="FID and CLIP score of image folders", description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="metric", metavar="METRIC")
    sub.required = True

    p = sub.add_parser("fid", help="FID between two image folders")
    p.add_argument("real", type=Path, help="reference image folder (or .npz statistics)")
    p.add_argument("fake", type=Path, help="generated image folder (or .npz statistics)")
    p.add_argument("--features", default="inception",
                   help="'inception' (default) or package.module:factory returning a (uint8 NCHW -> N x D) network")
    p.add_argument("--inception-weights", default=None,
                   help="inception-2015-12-05.pt (TorchScript) or torch-fidelity's pt_inception-...pth")
    p.add_argument("--input-size", type=int, default=None, help="resize images to this square size (custom networks)")
    p.add_argument("--batch-size", type=int, default=50, help="images per feature-network call")
    p.add_argument("--save-real-stats", type=Path, default=None,
                   help="save the reference side's mu/sigma as .npz, to pass instead of REAL_DIR next time")
    _output_args(p)
    p.set_defaults(func=_run_fid)

    p = sub.add_parser("clip-score", help="CLIP score of images against their prompts")
    p.add_argument("images", type=Path, help="folder of <key>.png, <key>/*.png or <key>/samples/*.png")
    p.add_argument("prompts", help="prompt file (txt / jsonl), or 'geneval' / 'dpg' for the shipped sets")
    p.add_argument("--clip-model", default=None,
                   help="CLIPModel folder or hub id (default openai/clip-vit-large-patch14), or open_clip:ARCH[:WEIGHTS]")
    p.add_argument("--per-prompt", action="store_true", help="include each prompt's score in --json output")
    _output_args(p)
    p.set_defaults(func=_run_clip_score)


def _output_args(p) -> None:
    p.add_argument("--device", default=None, help="cpu, cuda ... (unset: cuda if there is one)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def _network(args):
    from ..evaluation.metrics.fid import resolve_feature_network

    return resolve_feature_network(args.features, args.inception_weights, _device(args.device), args.input_size)


def _run_fid(args) -> int:
    from ..evaluation.metrics.fid import compute_fid
    from ..evaluation.metrics.image_folders import list_images

    folders = [f for f in (args.real, args.fake) if f.suffix != ".npz"]
    for folder in folders:  # fail on a bad folder before loading any network
        list_images(folder)
    network = _network(args) if folders else None
    result = compute_fid(args.real, args.fake, network, args.batch_size, progress=not args.no_progress,
                         save_real_stats=args.save_real_stats)
    print(json.dumps(result.as_dict()) if args.json else f"FID {result.fid:.4f}  ({result.feature_network}, "
          f"{result.real_count} real / {result.fake_count} generated images)")
    return 0


def _prompts(spec: str):
    from ..evaluation.prompt_sets import load_dpg, load_geneval

    if not Path(spec).exists() and spec in ("geneval", "dpg"):
        return load_geneval() if spec == "geneval" else load_dpg()
    return Path(spec)


def _run_clip_score(args) -> int:
    from ..evaluation.metrics.clip_models import DEFAULT_CLIP, load_clip
    from ..evaluation.metrics.clip_score import compute_clip_score, pair_images
    from ..evaluation.prompt_files import load_prompt_file

    prompts = _prompts(args.prompts)
    tasks = load_prompt_file(prompts) if isinstance(prompts, Path) else prompts
    pair_images(args.images, tasks)  # fail on a bad folder before loading CLIP
    clip = load_clip(args.clip_model or DEFAULT_CLIP, _device(args.device))
    result = compute_clip_score(args.images, tasks, clip, progress=not args.no_progress)
    if args.json:
        print(json.dumps(result.as_dict(per_prompt=args.per_prompt)))
    else:
        print(f"CLIP score {result.clip_score:.4f}  ({result.model}, {result.images} images, "
              f"{result.prompts_scored} prompts, {result.prompts_without_images} without images)")
    return 0
