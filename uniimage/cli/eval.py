"""`uniimage eval`: sample benchmark prompt sets into the folder layouts their official scorers read.

  uniimage eval geneval --model M --out DIR      553 prompts x 4 images (GenEval layout)
  uniimage eval dpg --model M --out DIR          1,065 prompts, one 2x2 grid PNG per prompt id
  uniimage eval edit --model M --data F --out D  an editing set given as JSONL
  uniimage eval prompts FILE --model M --out D   any prompt list (txt or jsonl)
  uniimage eval shapes ...                       synthetic-shapes evaluation (uniimage.shapes)
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import InputError, UniImageError


def _common(p: argparse.ArgumentParser, images_per_prompt: int, needs_out: bool = True) -> None:
    p.add_argument("--model", required=True, help="preset name (e.g. tiny), folder or hub id")
    if needs_out:
        p.add_argument("--out", required=True, type=Path, help="output folder (reused: finished prompts are skipped)")
    p.add_argument("--limit", type=int, default=None, help="only the first N prompts")
    p.add_argument("--images-per-prompt", type=int, default=images_per_prompt)
    p.add_argument("--steps", type=int, default=30, help="denoising steps")
    p.add_argument("--guidance", type=float, default=4.5, help="text guidance scale")
    p.add_argument("--negative-prompt", default="")
    p.add_argument("--seed", type=int, default=0, help="base seed; each prompt's seed derives from it and its index")
    p.add_argument("--resolution", type=int, default=None, help="square output size in px (default: the model's)")
    p.add_argument("--batch-size", type=int, default=1, help="prompts per pipeline call")
    p.add_argument("--shard", default=None, help="i/n: sample every n-th prompt from the i-th (composes with accelerate)")
    p.add_argument("--device", default=None, help="default: the accelerate process's device, else cuda if present")
    p.add_argument("--dtype", default="auto", choices=["auto", "float32", "bfloat16", "float16"])
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("eval", help="sample benchmarks (GenEval, DPG-Bench, editing, prompt files)",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="benchmark", metavar="BENCHMARK")
    sub.required = True

    p = sub.add_parser("geneval", help="GenEval: 553 prompts, DIR/<NNNNN>/samples/<MMMM>.png + metadata.jsonl")
    _common(p, images_per_prompt=4)
    p.add_argument("--no-grid", action="store_true", help="skip the optional per-prompt grid.png")
    p.set_defaults(func=_run_geneval)

    p = sub.add_parser("dpg", help="DPG-Bench: 1,065 prompts, DIR/<id>.png as a 2x2 grid")
    _common(p, images_per_prompt=4)
    p.set_defaults(func=_run_dpg)

    p = sub.add_parser("edit", help="editing set: JSONL of {id, image, instruction}; DIR/<id>.png")
    _common(p, images_per_prompt=1)
    p.add_argument("--data", required=True, type=Path, help="JSONL (or a folder holding one); image paths are relative to it")
    p.add_argument("--image-guidance", type=float, default=1.5, help="image guidance scale")
    p.set_defaults(func=_run_edit)

    p = sub.add_parser("prompts", help="any prompt list (txt one a line, or jsonl with 'prompt' [and 'id'])")
    p.add_argument("file", type=Path)
    _common(p, images_per_prompt=1)
    p.set_defaults(func=_run_prompts)

    # Everything after `shapes` goes to uniimage.shapes.evaluate's own parser, imported only when used.
    p = sub.add_parser("shapes", help="synthetic-shapes evaluation (see `uniimage eval shapes --help`)",
                       add_help=False, prefix_chars="\0")
    p.add_argument("shapes_argv", nargs=argparse.REMAINDER)
    p.set_defaults(func=_run_shapes)


def _check_counts(args) -> None:
    for name in ("limit", "steps", "batch_size", "images_per_prompt", "resolution"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise InputError(f"--{name.replace('_', '-')} must be at least 1, got {value}")


def _settings(args):
    from ..evaluation.sampler import SamplerSettings

    _check_counts(args)
    return SamplerSettings(
        images_per_prompt=args.images_per_prompt, steps=args.steps, guidance=args.guidance,
        image_guidance=getattr(args, "image_guidance", 1.5), negative_prompt=args.negative_prompt,
        seed=args.seed, height=args.resolution, width=args.resolution, batch_size=args.batch_size,
        limit=args.limit,
    )


def _job(args, benchmark, tasks, layout, next_commands=None):
    from ..evaluation.runner import Job
    from ..evaluation.sharding import parse_shard

    return Job(benchmark=benchmark, model=args.model, out_dir=args.out, tasks=tasks, layout=layout,
               settings=_settings(args), shard=parse_shard(args.shard), device=args.device,
               dtype=args.dtype, progress=not args.no_progress, next_commands=next_commands)


def _execute(job) -> int:
    from ..evaluation.runner import run_job

    run_job(job)
    return 0


def _run_geneval(args) -> int:
    from ..evaluation import scorers
    from ..evaluation.benchmarks import load_geneval
    from ..evaluation.layouts import GenEvalLayout

    layout = GenEvalLayout(args.out, args.images_per_prompt, grid=not args.no_grid)
    nxt = lambda _: scorers.format_next("djghosh13/geneval", scorers.geneval_commands(args.out))  # noqa: E731
    return _execute(_job(args, "geneval", load_geneval(), layout, nxt))


def _run_dpg(args) -> int:
    from ..evaluation import scorers
    from ..evaluation.benchmarks import load_dpg
    from ..evaluation.layouts import DpgLayout

    if not 1 <= args.images_per_prompt <= 4:
        raise InputError("DPG-Bench grids hold 1 to 4 images a prompt (the scorer's --pic-num)")
    layout = DpgLayout(args.out, args.images_per_prompt, args.resolution)

    def nxt(bound):
        cmds = scorers.dpg_commands(args.out, bound.resolution, args.images_per_prompt)
        return scorers.format_next("TencentQQGYLab/ELLA", cmds)

    return _execute(_job(args, "dpg", load_dpg(), layout, nxt))


def _run_edit(args) -> int:
    from ..evaluation.layouts import KeyedLayout
    from ..evaluation.prompt_files import load_edit_file

    tasks = load_edit_file(args.data)
    return _execute(_job(args, "edit", tasks, KeyedLayout(args.out, args.images_per_prompt)))


def _run_prompts(args) -> int:
    from ..evaluation import scorers
    from ..evaluation.layouts import KeyedLayout
    from ..evaluation.prompt_files import load_prompt_file

    tasks = load_prompt_file(args.file)
    nxt = lambda _: scorers.format_next("", scorers.clip_score_commands(args.out, args.file))  # noqa: E731
    return _execute(_job(args, "prompts", tasks, KeyedLayout(args.out, args.images_per_prompt), nxt))


def _run_shapes(args) -> int:
    try:
        from ..shapes import evaluate
    except ModuleNotFoundError as e:
        # Only "the module is absent" is the user's situation; a broken import inside it is a bug to show.
        if e.name not in ("uniimage.shapes", "uniimage.shapes.evaluate"):
            raise
        raise UniImageError("the shapes evaluation (uniimage.shapes.evaluate) is not in this install") from e
    parser = argparse.ArgumentParser(prog="uniimage eval shapes")
    evaluate.add_arguments(parser)
    return int(evaluate.run(parser.parse_args(args.shapes_argv)) or 0)
