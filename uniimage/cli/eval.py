"""`uniimage eval`: sample benchmark prompt sets into the folder layouts their official scorers read.

  uniimage eval geneval --model M --out DIR      553 prompts x 4 images (GenEval layout)
  uniimage eval dpg --model M --out DIR          1,065 prompts, one 2x2 grid PNG per prompt id
  uniimage eval edit --model M --data F --out D  an editing set given as JSONL
  uniimage eval prompts FILE --model M --out D   any prompt list (txt or jsonl)
  uniimage eval tiif --prompts DIR --model M --out D    TIIF-Bench, official layout (docs/tiif.md)
  uniimage eval tiif-judge --eval-prompts DIR --images D --model-name N --judge-url URL --judge-model J
  uniimage eval shapes ...                       synthetic-shapes evaluation (uniimage.shapes)
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ..errors import InputError, UniImageError
from ..utils.dtypes import DTYPE_NAMES


def _common(p: argparse.ArgumentParser, images_per_prompt: int | None, needs_out: bool = True,
            limit_help: str = "only the first N prompts") -> None:
    p.add_argument("--model", required=True, help="preset name (e.g. tiny), folder or hub id")
    if needs_out:
        p.add_argument("--out", required=True, type=Path, help="output folder (reused: finished prompts are skipped)")
    p.add_argument("--limit", type=int, default=None, help=limit_help)
    if images_per_prompt is not None:  # None: the layout fixes it (TIIF-Bench: one image a prompt)
        p.add_argument("--images-per-prompt", type=int, default=images_per_prompt, help="samples per prompt")
    p.add_argument("--steps", type=int, default=30, help="denoising steps")
    p.add_argument("--guidance", type=float, default=4.5, help="text guidance scale")
    p.add_argument("--negative-prompt", default="", help="negative prompt for every sample")
    p.add_argument("--seed", type=int, default=0, help="base seed; each prompt's seed derives from it and its index")
    p.add_argument("--resolution", type=int, default=None, help="square output size in px (default: the model's)")
    p.add_argument("--batch-size", type=int, default=1, help="prompts per pipeline call")
    p.add_argument("--shard", default=None, help="i/n: sample every n-th prompt from the i-th (composes with accelerate)")
    p.add_argument("--device", default=None, help="default: the accelerate process's device, else cuda if present")
    p.add_argument("--dtype", default="auto", choices=["auto", *DTYPE_NAMES],
                   help="weight dtype (auto: bfloat16 on CUDA, else float32)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("eval", help="sample benchmarks (GenEval, DPG-Bench, TIIF-Bench, editing, prompt files); judge TIIF-Bench",
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

    p = sub.add_parser("tiif", help="TIIF-Bench: DIR/<dimension>/<model-name>/<short|long>_description/<i>.png")
    p.add_argument("--prompts", required=True, type=Path,
                   help="the official prompt folder (data/test_prompts or data/testmini_prompts of A113N-W3I/TIIF-Bench)")
    _common(p, images_per_prompt=None, limit_help="only the first N prompts of each dimension")
    p.add_argument("--model-name", default=None, help="the <model_name> folder (default: the last part of --model)")
    p.add_argument("--which", default="both", choices=["short", "long", "both"], help="prompt versions to sample")
    p.add_argument("--dimensions", default=None, help="comma-separated dimensions (default: every file in --prompts)")
    p.set_defaults(func=_run_tiif)

    p = sub.add_parser("tiif-judge", help="TIIF-Bench: ask an OpenAI-compatible vision model the yes/no questions, score")
    p.add_argument("--eval-prompts", required=True, type=Path,
                   help="the official question folder (data/test_eval_prompts or data/testmini_eval_prompts)")
    p.add_argument("--images", required=True, type=Path, help="the --out folder of `uniimage eval tiif`")
    p.add_argument("--model-name", required=True, help="the <model_name> folder to judge")
    p.add_argument("--judge-url", required=True, help="base URL of the chat completions API, e.g. http://127.0.0.1:8000/v1")
    p.add_argument("--judge-model", required=True, help="model name sent to the judge (e.g. gpt-4o)")
    p.add_argument("--api-key", default=os.environ.get("OPENAI_API_KEY"), help="default: $OPENAI_API_KEY")
    p.add_argument("--concurrency", type=int, default=4, help="requests in flight at once")
    p.add_argument("--out", type=Path, default=None, help="results folder (default: IMAGES/judge_<judge-model>)")
    p.add_argument("--prompts", type=Path, default=None,
                   help="prompt folder to check the question files against (default: the sampler's run record)")
    p.add_argument("--max-tokens", type=int, default=32, help="reply length cap (the verdict comes first)")
    p.add_argument("--temperature", type=float, default=0.0, help="the judge's sampling temperature (0 = greedy)")
    p.add_argument("--max-retries", type=int, default=6, help="retries of a transient error, with exponential backoff")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds per request")
    p.add_argument("--reask-unparsed", action="store_true", help="ask again where the cached reply was neither yes nor no")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=_run_tiif_judge)

    # Everything after `shapes` goes to cli/shapes_eval.py's own parser, imported only when used.
    p = sub.add_parser("shapes", help="synthetic-shapes evaluation (see `uniimage eval shapes --help`)",
                       add_help=False, prefix_chars="\0")
    p.add_argument("shapes_argv", nargs=argparse.REMAINDER)
    p.set_defaults(func=_run_shapes)


def _check_counts(args) -> None:
    for name in ("limit", "steps", "batch_size", "images_per_prompt", "resolution"):
        value = getattr(args, name, None)
        if value is not None and value < 1:
            raise InputError(f"--{name.replace('_', '-')} must be at least 1, got {value}")


def _settings(args):
    from ..evaluation.sampler import SamplerSettings

    _check_counts(args)
    return SamplerSettings(
        images_per_prompt=getattr(args, "images_per_prompt", 1), steps=args.steps, guidance=args.guidance,
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
    from ..evaluation.prompt_sets import load_geneval
    from ..evaluation.layouts import GenEvalLayout

    layout = GenEvalLayout(args.out, args.images_per_prompt, grid=not args.no_grid)
    nxt = lambda _: scorers.format_next("djghosh13/geneval", scorers.geneval_commands(args.out))  # noqa: E731
    return _execute(_job(args, "geneval", load_geneval(), layout, nxt))


def _run_dpg(args) -> int:
    from ..evaluation import scorers
    from ..evaluation.prompt_sets import load_dpg
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


def _run_tiif(args) -> int:
    from ..evaluation.sharding import parse_shard
    from ..evaluation.tiif.sample import sampling_job

    settings = _settings(args)
    settings.limit = None  # TIIF's --limit is per dimension: applied when the task list is built
    job = sampling_job(args.prompts, args.model, args.out, model_name=args.model_name, which=args.which,
                       dimensions=args.dimensions, limit=args.limit, settings=settings,
                       shard=parse_shard(args.shard), device=args.device, dtype=args.dtype,
                       progress=not args.no_progress)
    return _execute(job)


def _run_tiif_judge(args) -> int:
    from ..evaluation.tiif.client import OpenAIJudge
    from ..evaluation.tiif.judge import run_judge
    from ..evaluation.tiif.scoring import format_table

    for name in ("concurrency", "max_tokens"):
        if getattr(args, name) < 1:
            raise InputError(f"--{name.replace('_', '-')} must be at least 1")
    if args.max_retries < 0:
        raise InputError("--max-retries must be 0 or more")
    judge = OpenAIJudge(args.judge_url, args.judge_model, args.api_key, max_retries=args.max_retries,
                        timeout_s=args.timeout, max_tokens=args.max_tokens, temperature=args.temperature)
    summary = run_judge(eval_prompts=args.eval_prompts, images=args.images, model_name=args.model_name,
                        judge=judge, judge_model=args.judge_model, out=args.out, prompts=args.prompts,
                        concurrency=args.concurrency, reask_unparsed=args.reask_unparsed,
                        progress=not args.no_progress)
    print(format_table(summary))
    c = summary["counts"]
    print(f"{c['images']} images, {c['questions']} questions ({c['asked_this_run']} asked this run, the rest cached); "
          f"judge {args.judge_model}: results in {summary['out']}")
    if summary["missing_images"]:
        print(f"missing images (not scored): {summary['missing_images']}")
    return 0


def _run_shapes(args) -> int:
    try:
        from . import shapes_eval
    except ModuleNotFoundError as e:
        # Only "the module is absent" is the user's situation; a broken import inside it is a bug to show.
        if e.name not in ("uniimage.shapes", "uniimage.shapes.evaluate", "uniimage.cli.shapes_eval"):
            raise
        raise UniImageError("the shapes evaluation (uniimage.shapes.evaluate) is not in this install") from e
    parser = argparse.ArgumentParser(prog="uniimage eval shapes")
    shapes_eval.add_arguments(parser)
    return int(shapes_eval.run(parser.parse_args(args.shapes_argv)) or 0)
