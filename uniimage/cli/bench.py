"""`uniimage bench`: seconds per image (MLLM conditioning / DiT steps / VAE decode), images per second
and peak memory at each batch size; `--baseline` times a naive reference alongside, same weights."""

from __future__ import annotations

import json
import sys

from ..errors import InputError
from ..utils.dtypes import DTYPE_NAMES


def add_parser(sub):
    p = sub.add_parser("bench", help="speed and memory of the pipeline (optionally against a naive baseline)")
    p.add_argument("--model", default="tiny", help="tiny, small, tbac-uniimage-3b (random weights) or a checkpoint folder")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda if there is one)")
    p.add_argument("--dtype", default=None, choices=list(DTYPE_NAMES),
                   help="default: bfloat16 on cuda, float32 elsewhere")
    p.add_argument("--batch", type=int, nargs="+", default=[1, 4, 16], help="prompts per call (one image each)")
    p.add_argument("--steps", type=int, default=30, help="sampling steps per call")
    p.add_argument("--repeats", type=int, default=3, help="timed calls per batch (median reported)")
    p.add_argument("--warmup", type=int, default=1, help="untimed calls per batch first")
    p.add_argument("--baseline", action="store_true", help="also time the naive reference, alternating with ours")
    p.add_argument("--baseline-max-batch", type=int, default=None, help="run the baseline only up to this batch")
    p.add_argument("--offload", choices=["model", "sequential"], default=None, help="CPU offload mode")
    p.add_argument("--compile", action="store_true", help="pipe.compile(): the DiT block and the VAE decoder through torch.compile, batch buckets")
    p.add_argument("--edit", action="store_true", help="editing calls (an input image per prompt, three CFG rows)")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    p.set_defaults(func=run_bench_command)


def settings_from_args(args):
    import torch

    from ..perf import BenchSettings

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    dtype = args.dtype or ("bfloat16" if device.startswith("cuda") else "float32")
    if args.offload and not device.startswith("cuda"):
        print("note: offload on a CPU device only exercises the hooks; it saves no memory", file=sys.stderr)
    if min(args.batch) < 1 or args.steps < 1 or args.repeats < 1 or args.warmup < 0:
        raise InputError("--batch, --steps and --repeats must be >= 1, --warmup >= 0")
    return BenchSettings(model=args.model, device=device, dtype=dtype, batches=args.batch, steps=args.steps,
                         repeats=args.repeats, warmup=args.warmup, baseline=args.baseline,
                         baseline_max_batch=args.baseline_max_batch, offload=args.offload, compile=args.compile,
                         edit=args.edit, seed=args.seed)


def run_bench_command(args) -> int:
    from ..perf import format_table, run_bench

    settings = settings_from_args(args)
    result = run_bench(settings, log=None if args.json else lambda m: print(m, file=sys.stderr))
    print(json.dumps(result, indent=2) if args.json else format_table(result))
    disagree = [r["batch"] for r in result["results"] if r.get("outputs_agree") is False]
    if disagree:
        print(f"uniimage bench: outputs of ours and the baseline differ at batch {disagree}", file=sys.stderr)
        return 1
    return 0
